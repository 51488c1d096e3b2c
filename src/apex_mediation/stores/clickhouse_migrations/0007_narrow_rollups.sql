-- Narrower rollups beside those of 0004, so that the common reports read thousands of rows even
-- for a publisher whose hourly rollup barely compresses (apps x placements x networks x 100+
-- countries leaves nearly one row per event and hour; measured in docs/benchmarks.md).
-- reporting/sql.py picks, per query, the smallest table that holds every dimension the report
-- groups or filters by; the daily ones only serve periods of whole UTC days.
--
-- * *_totals_hourly: no dimension but the hour (overview, timeseries, the dashboard).
-- * *_inventory_daily: app, placement, network, format per UTC day (networks, top apps).
-- * *_country_daily: country, app, format per UTC day (countries).
-- * devices_publisher_daily, devices_app_country_daily: unique devices per day, per publisher
--   and per app and country (DAU, ARPDAU).
--
-- Same rules as 0004: filled by materialized views on every insert, test and ivt kept as
-- dimensions, a deduplication window so that a resent batch is dropped here too. Each table is
-- backfilled from the 0004 rollups when it is empty; migrations run before the process ingests,
-- so nothing lands twice (rows inserted by another process between a view's creation and its
-- backfill would: run `apex migrate` before starting the servers of a new version).

CREATE TABLE IF NOT EXISTS events_totals_hourly
(
    publisher_id   UUID,
    hour           DateTime('UTC'),
    test           UInt8,
    ivt            UInt8,
    event          LowCardinality(String),
    events         UInt64,
    cpm_micros_sum UInt64
)
ENGINE = SummingMergeTree((events, cpm_micros_sum))
PARTITION BY toYYYYMM(hour)
ORDER BY (publisher_id, hour, test, ivt, event)
TTL hour + INTERVAL 3 YEAR
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS events_totals_hourly_mv TO events_totals_hourly AS
SELECT
    publisher_id,
    toStartOfHour(received_at, 'UTC') AS hour,
    test,
    ivt,
    event,
    count() AS events,
    sum(cpm_micros) AS cpm_micros_sum
FROM events
GROUP BY publisher_id, hour, test, ivt, event;

INSERT INTO events_totals_hourly
SELECT publisher_id, hour, test, ivt, event, sum(events), sum(cpm_micros_sum)
FROM events_hourly
WHERE (SELECT count() FROM events_totals_hourly) = 0
GROUP BY publisher_id, hour, test, ivt, event;

CREATE TABLE IF NOT EXISTS auctions_totals_hourly
(
    publisher_id UUID,
    hour         DateTime('UTC'),
    test         UInt8,
    requests     UInt64,
    fills        UInt64
)
ENGINE = SummingMergeTree((requests, fills))
PARTITION BY toYYYYMM(hour)
ORDER BY (publisher_id, hour, test)
TTL hour + INTERVAL 3 YEAR
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS auctions_totals_hourly_mv TO auctions_totals_hourly AS
SELECT
    publisher_id,
    toStartOfHour(received_at, 'UTC') AS hour,
    test,
    count() AS requests,
    toUInt64(sum(filled)) AS fills
FROM auctions
GROUP BY publisher_id, hour, test;

INSERT INTO auctions_totals_hourly
SELECT publisher_id, hour, test, sum(requests), sum(fills)
FROM auctions_hourly
WHERE (SELECT count() FROM auctions_totals_hourly) = 0
GROUP BY publisher_id, hour, test;

CREATE TABLE IF NOT EXISTS events_inventory_daily
(
    publisher_id   UUID,
    day            Date,
    app_id         UUID,
    placement_id   UUID,
    network        LowCardinality(String),
    format         LowCardinality(String),
    test           UInt8,
    ivt            UInt8,
    event          LowCardinality(String),
    events         UInt64,
    cpm_micros_sum UInt64
)
ENGINE = SummingMergeTree((events, cpm_micros_sum))
PARTITION BY toYYYYMM(day)
ORDER BY (publisher_id, day, app_id, placement_id, network, format, test, ivt, event)
TTL day + INTERVAL 3 YEAR
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS events_inventory_daily_mv TO events_inventory_daily AS
SELECT
    publisher_id,
    toDate(received_at, 'UTC') AS day,
    app_id,
    placement_id,
    network,
    format,
    test,
    ivt,
    event,
    count() AS events,
    sum(cpm_micros) AS cpm_micros_sum
FROM events
GROUP BY publisher_id, day, app_id, placement_id, network, format, test, ivt, event;

INSERT INTO events_inventory_daily
SELECT
    publisher_id, toDate(hour, 'UTC') AS day, app_id, placement_id, network, format, test, ivt,
    event, sum(events), sum(cpm_micros_sum)
FROM events_hourly
WHERE (SELECT count() FROM events_inventory_daily) = 0
GROUP BY publisher_id, day, app_id, placement_id, network, format, test, ivt, event;

CREATE TABLE IF NOT EXISTS auctions_inventory_daily
(
    publisher_id UUID,
    day          Date,
    app_id       UUID,
    placement_id UUID,
    network      LowCardinality(String),
    format       LowCardinality(String),
    test         UInt8,
    requests     UInt64,
    fills        UInt64
)
ENGINE = SummingMergeTree((requests, fills))
PARTITION BY toYYYYMM(day)
ORDER BY (publisher_id, day, app_id, placement_id, network, format, test)
TTL day + INTERVAL 3 YEAR
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS auctions_inventory_daily_mv TO auctions_inventory_daily AS
SELECT
    publisher_id,
    toDate(received_at, 'UTC') AS day,
    app_id,
    placement_id,
    winner_network AS network,
    format,
    test,
    count() AS requests,
    toUInt64(sum(filled)) AS fills
FROM auctions
GROUP BY publisher_id, day, app_id, placement_id, network, format, test;

INSERT INTO auctions_inventory_daily
SELECT
    publisher_id, toDate(hour, 'UTC') AS day, app_id, placement_id, network, format, test,
    sum(requests), sum(fills)
FROM auctions_hourly
WHERE (SELECT count() FROM auctions_inventory_daily) = 0
GROUP BY publisher_id, day, app_id, placement_id, network, format, test;

CREATE TABLE IF NOT EXISTS events_country_daily
(
    publisher_id   UUID,
    day            Date,
    country        LowCardinality(String),
    app_id         UUID,
    format         LowCardinality(String),
    test           UInt8,
    ivt            UInt8,
    event          LowCardinality(String),
    events         UInt64,
    cpm_micros_sum UInt64
)
ENGINE = SummingMergeTree((events, cpm_micros_sum))
PARTITION BY toYYYYMM(day)
ORDER BY (publisher_id, day, country, app_id, format, test, ivt, event)
TTL day + INTERVAL 3 YEAR
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS events_country_daily_mv TO events_country_daily AS
SELECT
    publisher_id,
    toDate(received_at, 'UTC') AS day,
    country,
    app_id,
    format,
    test,
    ivt,
    event,
    count() AS events,
    sum(cpm_micros) AS cpm_micros_sum
FROM events
GROUP BY publisher_id, day, country, app_id, format, test, ivt, event;

INSERT INTO events_country_daily
SELECT
    publisher_id, toDate(hour, 'UTC') AS day, country, app_id, format, test, ivt, event,
    sum(events), sum(cpm_micros_sum)
FROM events_hourly
WHERE (SELECT count() FROM events_country_daily) = 0
GROUP BY publisher_id, day, country, app_id, format, test, ivt, event;

CREATE TABLE IF NOT EXISTS auctions_country_daily
(
    publisher_id UUID,
    day          Date,
    country      LowCardinality(String),
    app_id       UUID,
    format       LowCardinality(String),
    test         UInt8,
    requests     UInt64,
    fills        UInt64
)
ENGINE = SummingMergeTree((requests, fills))
PARTITION BY toYYYYMM(day)
ORDER BY (publisher_id, day, country, app_id, format, test)
TTL day + INTERVAL 3 YEAR
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS auctions_country_daily_mv TO auctions_country_daily AS
SELECT
    publisher_id,
    toDate(received_at, 'UTC') AS day,
    country,
    app_id,
    format,
    test,
    count() AS requests,
    toUInt64(sum(filled)) AS fills
FROM auctions
GROUP BY publisher_id, day, country, app_id, format, test;

INSERT INTO auctions_country_daily
SELECT
    publisher_id, toDate(hour, 'UTC') AS day, country, app_id, format, test,
    sum(requests), sum(fills)
FROM auctions_hourly
WHERE (SELECT count() FROM auctions_country_daily) = 0
GROUP BY publisher_id, day, country, app_id, format, test;

CREATE TABLE IF NOT EXISTS devices_publisher_daily
(
    publisher_id UUID,
    day          Date,
    test         UInt8,
    ivt          UInt8,
    devices      AggregateFunction(uniq, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (publisher_id, day, test, ivt)
TTL day + INTERVAL 3 YEAR
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS devices_publisher_daily_mv TO devices_publisher_daily AS
SELECT
    publisher_id,
    toDate(received_at, 'UTC') AS day,
    test,
    ivt,
    uniqState(device_key) AS devices
FROM events
WHERE device_key != ''
GROUP BY publisher_id, day, test, ivt;

INSERT INTO devices_publisher_daily
SELECT publisher_id, day, test, ivt, uniqMergeState(devices)
FROM devices_daily
WHERE (SELECT count() FROM devices_publisher_daily) = 0
GROUP BY publisher_id, day, test, ivt;

CREATE TABLE IF NOT EXISTS devices_app_country_daily
(
    publisher_id UUID,
    day          Date,
    app_id       UUID,
    country      LowCardinality(String),
    test         UInt8,
    ivt          UInt8,
    devices      AggregateFunction(uniq, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (publisher_id, day, app_id, country, test, ivt)
TTL day + INTERVAL 3 YEAR
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS devices_app_country_daily_mv TO devices_app_country_daily AS
SELECT
    publisher_id,
    toDate(received_at, 'UTC') AS day,
    app_id,
    country,
    test,
    ivt,
    uniqState(device_key) AS devices
FROM events
WHERE device_key != ''
GROUP BY publisher_id, day, app_id, country, test, ivt;

INSERT INTO devices_app_country_daily
SELECT publisher_id, day, app_id, country, test, ivt, uniqMergeState(devices)
FROM devices_daily
WHERE (SELECT count() FROM devices_app_country_daily) = 0
GROUP BY publisher_id, day, app_id, country, test, ivt;
