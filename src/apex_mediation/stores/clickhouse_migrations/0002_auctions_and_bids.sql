-- One row per auction and one per candidate (the bid landscape), written by the exchange after
-- it has answered. ReplacingMergeTree on keys that end in the auction id (and, for bids, the
-- network and rank) so that a redelivered batch collapses into the first.
CREATE TABLE IF NOT EXISTS auctions
(
    auction_id            String,
    received_at           DateTime64(3),
    request_id            String,
    publisher_id          UUID,
    app_id                UUID,
    placement_id          UUID,
    format                LowCardinality(String),
    platform              LowCardinality(String),
    country               LowCardinality(String),
    sdk_version           LowCardinality(String),
    auction_type          LowCardinality(String),
    floor_micros          UInt64,
    tmax_ms               UInt32,
    duration_ms           Float32,
    filled                UInt8,
    winner_network        LowCardinality(String),
    winner_kind           LowCardinality(String),
    clearing_price_micros UInt64,
    candidates            UInt16,
    no_fill_reason        String,
    test                  UInt8
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (publisher_id, placement_id, received_at, auction_id)
TTL toDateTime(received_at) + INTERVAL 90 DAY;

CREATE TABLE IF NOT EXISTS bids
(
    auction_id     String,
    received_at    DateTime64(3),
    publisher_id   UUID,
    app_id         UUID,
    placement_id   UUID,
    network        LowCardinality(String),
    kind           LowCardinality(String),
    account_id     String,
    outcome        LowCardinality(String),
    reason         String,
    latency_ms     Float32,
    price_micros   UInt64,
    bid_price      String,
    bid_currency   LowCardinality(String),
    rank           Int16,
    won            UInt8,
    test           UInt8
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (publisher_id, placement_id, received_at, auction_id, network, rank)
TTL toDateTime(received_at) + INTERVAL 30 DAY;
