-- Raw SDK telemetry (init, errors, timings) as received.
-- Delivery is at-least-once, so a redelivered event must collapse into the first:
-- ReplacingMergeTree keeps one row per sorting key, which ends in event_id. That works only
-- because received_at is stamped once, when the edge acknowledges the event, and travels with
-- it on every retry. Merges deduplicate eventually; read with FINAL where exact counts matter.
CREATE TABLE IF NOT EXISTS sdk_telemetry
(
    event_id     String,
    received_at  DateTime64(3),
    publisher_id UUID,
    app_id       UUID,
    sdk_platform LowCardinality(String),
    sdk_version  LowCardinality(String),
    event        LowCardinality(String),
    detail       String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (publisher_id, app_id, received_at, event_id)
TTL toDateTime(received_at) + INTERVAL 180 DAY;
