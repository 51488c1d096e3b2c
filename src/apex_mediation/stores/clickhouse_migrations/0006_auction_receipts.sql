-- Auction receipts (tracking/receipts.py): the signed, hash-chained record of each auction.
-- One row per (placement, chain, seq); a redelivered batch collapses into the first, and the
-- deduplication window drops a resent batch outright. `body` is stored as the exact bytes that
-- were hashed, so a receipt can be re-verified from this table alone. Kept longer than the raw
-- auction log: a publisher may audit a year back.
CREATE TABLE IF NOT EXISTS auction_receipts
(
    placement_id UUID,
    chain        String,
    seq          UInt64,
    auction_id   String,
    publisher_id UUID,
    issued_at    DateTime64(3),
    body         String CODEC(ZSTD(3)),
    hash         String,
    prev_hash    String,
    key_id       LowCardinality(String),
    signature    String,
    INDEX auction_id_bloom auction_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(issued_at)
ORDER BY (publisher_id, placement_id, chain, seq)
TTL toDateTime(issued_at) + INTERVAL 400 DAY
SETTINGS non_replicated_deduplication_window = 1000;
