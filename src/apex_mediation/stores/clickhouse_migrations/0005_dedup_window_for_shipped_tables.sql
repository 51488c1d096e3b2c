-- The ingest shipper resends a batch after a crash with the same insert_deduplication_token;
-- ClickHouse drops the copy only in tables that keep a deduplication window. events and the
-- rollups have one from their creation; these tables, also fed by the shipper, get it here.
ALTER TABLE auctions MODIFY SETTING non_replicated_deduplication_window = 1000;
ALTER TABLE bids MODIFY SETTING non_replicated_deduplication_window = 1000;
ALTER TABLE sdk_telemetry MODIFY SETTING non_replicated_deduplication_window = 1000;
