-- Rollups for reporting, so that a report over months reads thousands of rows, not billions.
-- Materialized views fill them on every insert into the raw tables, so a row is in its rollup as
-- soon as the insert returns. Nothing is filtered out here: test and ivt are dimensions, and the
-- reports exclude them at query time (reporting/sql.py), so a change of policy needs no rebuild.
--
-- Exactly once: the ingest shipper resends a batch with the same insert_deduplication_token and
-- deduplicate_blocks_in_dependent_materialized_views = 1, which drops the resent block in each
-- view's target as well, but only in tables with a deduplication window; hence the SETTINGS below.
--
-- Three tables, not one:
-- * events_hourly (SummingMergeTree): plain counters, one row per dimensions, hour and event
--   name. Keeping `event` as a dimension instead of one column per beacon keeps the beacon
--   names out of this DDL: a renamed or new beacon (video quartiles) is a query change in
--   reporting/sql.py, not a new view and a backfill.
-- * devices_daily (AggregatingMergeTree): uniq states of device_key for DAU. Unique devices are
--   only reported per day, and a state per hour and event would hold each device many times.
-- * auctions_hourly (SummingMergeTree): requests and fills, network = the winning network.
-- Hours and days are UTC whatever the inserting session's time zone.

CREATE TABLE IF NOT EXISTS events_hourly
(
    publisher_id   UUID,
    app_id         UUID,
    placement_id   UUID,
    network        LowCardinality(String),
    country        LowCardinality(String),
    format         LowCardinality(String),
    hour           DateTime('UTC'),
    test           UInt8,
    ivt            UInt8,
    event          LowCardinality(String),
    events         UInt64,
    cpm_micros_sum UInt64
)
ENGINE = SummingMergeTree((events, cpm_micros_sum))
PARTITION BY toYYYYMM(hour)
ORDER BY (publisher_id, hour, app_id, placement_id, network, country, format, test, ivt, event)
TTL hour + INTERVAL 3 YEAR
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS events_hourly_mv TO events_hourly AS
SELECT
    publisher_id,
    app_id,
    placement_id,
    network,
    country,
    format,
    toStartOfHour(received_at, 'UTC') AS hour,
    test,
    ivt,
    event,
    count() AS events,
    sum(cpm_micros) AS cpm_micros_sum
FROM events
GROUP BY publisher_id, app_id, placement_id, network, country, format, hour, test, ivt, event;

CREATE TABLE IF NOT EXISTS devices_daily
(
    publisher_id UUID,
    app_id       UUID,
    placement_id UUID,
    network      LowCardinality(String),
    country      LowCardinality(String),
    format       LowCardinality(String),
    day          Date,
    test         UInt8,
    ivt          UInt8,
    devices      AggregateFunction(uniq, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (publisher_id, day, app_id, placement_id, network, country, format, test, ivt)
TTL day + INTERVAL 3 YEAR
SETTINGS non_replicated_deduplication_window = 1000;

-- An empty device_key (no consent to identify the device) is not a device.
CREATE MATERIALIZED VIEW IF NOT EXISTS devices_daily_mv TO devices_daily AS
SELECT
    publisher_id,
    app_id,
    placement_id,
    network,
    country,
    format,
    toDate(received_at, 'UTC') AS day,
    test,
    ivt,
    uniqState(device_key) AS devices
FROM events
WHERE device_key != ''
GROUP BY publisher_id, app_id, placement_id, network, country, format, day, test, ivt;

CREATE TABLE IF NOT EXISTS auctions_hourly
(
    publisher_id UUID,
    app_id       UUID,
    placement_id UUID,
    network      LowCardinality(String),
    country      LowCardinality(String),
    format       LowCardinality(String),
    hour         DateTime('UTC'),
    test         UInt8,
    requests     UInt64,
    fills        UInt64
)
ENGINE = SummingMergeTree((requests, fills))
PARTITION BY toYYYYMM(hour)
ORDER BY (publisher_id, hour, app_id, placement_id, network, country, format, test)
TTL hour + INTERVAL 3 YEAR
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS auctions_hourly_mv TO auctions_hourly AS
SELECT
    publisher_id,
    app_id,
    placement_id,
    winner_network AS network,
    country,
    format,
    toStartOfHour(received_at, 'UTC') AS hour,
    test,
    count() AS requests,
    toUInt64(sum(filled)) AS fills
FROM auctions
GROUP BY publisher_id, app_id, placement_id, network, country, format, hour, test;
