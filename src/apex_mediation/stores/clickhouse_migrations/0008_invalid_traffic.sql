-- Invalid traffic (ivt/): each event and each auction carries its score (per mille) and the
-- reasons that produced it. An event's `ivt` flag (0003) is set when its score reaches the
-- publisher's flag threshold: it is stored, and the reports exclude it. An auction's `ivt` flag
-- means it was blocked (no bidder called, no-fill reason blocked_ivt).
--
-- Blocked auctions are not requests in the publisher's figures: the auction rollups' views are
-- recreated with `WHERE ivt = 0`. Unlike events (where ivt is a rollup dimension, excluded at
-- query time), a blocked auction never reached a bidder, so no report has a use for it beside
-- the IVT report, which reads ivt_hourly. Views are dropped and recreated here; migrations run
-- before the process ingests, so no insert falls between the two.

ALTER TABLE events ADD COLUMN IF NOT EXISTS ivt_score UInt16 DEFAULT 0;
ALTER TABLE events ADD COLUMN IF NOT EXISTS ivt_reasons Array(LowCardinality(String)) DEFAULT [];
ALTER TABLE auctions ADD COLUMN IF NOT EXISTS ivt UInt8 DEFAULT 0;
ALTER TABLE auctions ADD COLUMN IF NOT EXISTS ivt_score UInt16 DEFAULT 0;
ALTER TABLE auctions ADD COLUMN IF NOT EXISTS ivt_reasons Array(LowCardinality(String)) DEFAULT [];

DROP VIEW IF EXISTS auctions_hourly_mv;
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
WHERE ivt = 0
GROUP BY publisher_id, app_id, placement_id, network, country, format, hour, test;

DROP VIEW IF EXISTS auctions_totals_hourly_mv;
CREATE MATERIALIZED VIEW IF NOT EXISTS auctions_totals_hourly_mv TO auctions_totals_hourly AS
SELECT
    publisher_id,
    toStartOfHour(received_at, 'UTC') AS hour,
    test,
    count() AS requests,
    toUInt64(sum(filled)) AS fills
FROM auctions
WHERE ivt = 0
GROUP BY publisher_id, hour, test;

DROP VIEW IF EXISTS auctions_inventory_daily_mv;
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
WHERE ivt = 0
GROUP BY publisher_id, day, app_id, placement_id, network, format, test;

DROP VIEW IF EXISTS auctions_country_daily_mv;
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
WHERE ivt = 0
GROUP BY publisher_id, day, country, app_id, format, test;

-- The IVT report: invalid records by reason. Each invalid record counts once under reason ''
-- (for shares) and once under each of its reasons. kind: 'auction' or the event's name.
CREATE TABLE IF NOT EXISTS ivt_hourly
(
    publisher_id UUID,
    hour         DateTime('UTC'),
    app_id       UUID,
    placement_id UUID,
    network      LowCardinality(String),
    country      LowCardinality(String),
    format       LowCardinality(String),
    test         UInt8,
    kind         LowCardinality(String),
    reason       LowCardinality(String),
    records      UInt64
)
ENGINE = SummingMergeTree(records)
PARTITION BY toYYYYMM(hour)
ORDER BY (publisher_id, hour, kind, reason, app_id, placement_id, network, country, format, test)
TTL hour + INTERVAL 3 YEAR
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS ivt_hourly_events_mv TO ivt_hourly AS
SELECT
    publisher_id,
    toStartOfHour(received_at, 'UTC') AS hour,
    app_id,
    placement_id,
    network,
    country,
    format,
    test,
    event AS kind,
    reason,
    count() AS records
FROM events
ARRAY JOIN arrayConcat([''], ivt_reasons) AS reason
WHERE ivt = 1
GROUP BY publisher_id, hour, app_id, placement_id, network, country, format, test, kind, reason;

CREATE MATERIALIZED VIEW IF NOT EXISTS ivt_hourly_auctions_mv TO ivt_hourly AS
SELECT
    publisher_id,
    toStartOfHour(received_at, 'UTC') AS hour,
    app_id,
    placement_id,
    '' AS network,
    country,
    format,
    test,
    'auction' AS kind,
    reason,
    count() AS records
FROM auctions
ARRAY JOIN arrayConcat([''], ivt_reasons) AS reason
WHERE ivt = 1
GROUP BY publisher_id, hour, app_id, placement_id, network, country, format, test, kind, reason;
