-- Every accepted beacon (impressions, clicks, video events, rewards) as one row. Delivery from
-- the durable ingest log is at-least-once, so rows carry the event id and the table collapses
-- redeliveries: ReplacingMergeTree on a key ending in event_id, and inserts are deduplicated by
-- block token as well (the shipper sends the same token when it resends a batch).
-- Money: cpm_micros is the impression's price in USD micros per thousand; revenue of N
-- impressions is sum(cpm_micros) / 1000.
CREATE TABLE IF NOT EXISTS events
(
    event_id      String,
    event         LowCardinality(String),
    received_at   DateTime64(3),
    auction_id    String,
    bid_id        String,
    publisher_id  UUID,
    app_id        UUID,
    placement_id  UUID,
    network       LowCardinality(String),
    format        LowCardinality(String),
    platform      LowCardinality(String),
    country       LowCardinality(String),
    cpm_micros    UInt64,
    currency      LowCardinality(String),
    test          UInt8,
    ivt           UInt8,
    device_key    String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (publisher_id, event, received_at, event_id)
TTL toDateTime(received_at) + INTERVAL 400 DAY
SETTINGS non_replicated_deduplication_window = 1000;
