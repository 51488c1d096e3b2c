"""The durable ingest log and its shipper: group commit, torn tails, exactly-once delivery."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from pathlib import Path

import pytest

from apex_mediation.services import Services
from apex_mediation.stores.analytics import AnalyticsError
from apex_mediation.tracking.ingest_log import IngestLog, read_records, segments
from apex_mediation.tracking.shipper import (
    DEAD_LETTER,
    MAX_ATTEMPTS,
    Checkpoint,
    Shipper,
    encode,
)


def _row(publisher: str, n: int) -> dict[str, object]:
    return {
        "event_id": f"{publisher[:8]}-{n}",
        "event": "impression",
        "received_at": dt.datetime.now(dt.UTC),
        "auction_id": f"a{n}",
        "bid_id": f"b{n}",
        "publisher_id": publisher,
        "app_id": publisher,
        "placement_id": publisher,
        "network": "openrtb",
        "format": "banner",
        "platform": "android",
        "country": "DE",
        "cpm_micros": 2_000_000,
        "currency": "USD",
        "test": 0,
        "ivt": 0,
        "device_key": "d",
    }


async def test_concurrent_appends_share_commits_and_all_land(tmp_path: Path) -> None:
    log = IngestLog(tmp_path)
    log.recover()
    await asyncio.gather(*(log.append(f"record {i}".encode()) for i in range(500)))
    payloads = [r.payload for path in segments(tmp_path) for r in read_records(path)]
    assert sorted(payloads) == sorted(f"record {i}".encode() for i in range(500))
    log.close()


async def test_segments_roll_over(tmp_path: Path) -> None:
    log = IngestLog(tmp_path, segment_bytes=1000)
    log.recover()
    for i in range(50):
        await log.append(b"x" * 100 + str(i).encode())
    assert len(segments(tmp_path)) > 3
    assert sum(1 for p in segments(tmp_path) for _ in read_records(p)) == 50
    log.close()


async def test_a_torn_tail_is_cut_off_at_recovery(tmp_path: Path) -> None:
    log = IngestLog(tmp_path)
    log.recover()
    await log.append(b"first")
    await log.append(b"second")
    log.close()
    path = segments(tmp_path)[-1]
    with path.open("ab") as handle:  # what a crash in the middle of a write leaves
        handle.write(b"\x40\x00\x00\x00\x01\x02\x03")
    reopened = IngestLog(tmp_path)
    reopened.recover()
    await reopened.append(b"third")
    assert [r.payload for r in read_records(path)] == [b"first", b"second", b"third"]
    reopened.close()


async def test_shipper_delivers_once_even_when_a_batch_is_resent(
    tmp_path: Path, services: Services
) -> None:
    publisher = str(uuid.uuid4())
    log = IngestLog(tmp_path)
    log.recover()
    for n in range(30):
        await log.append(encode("events", _row(publisher, n)))
    shipper = Shipper(log, services.analytics, batch_records=10)
    # A crash after the insert but before the checkpoint moved: the range is still pending.
    await shipper.ship_once()
    done = shipper.checkpoint
    Checkpoint(done.segment, 0, (done.segment, 0, done.offset)).save(tmp_path)
    restarted = Shipper(log, services.analytics, batch_records=10)
    assert restarted.checkpoint.pending == (done.segment, 0, done.offset)
    assert await restarted.drain() == 30  # the first 10 sent again, then the other 20
    rows = await services.analytics.query(
        "SELECT count() AS c FROM events WHERE publisher_id = {p:UUID}", {"p": publisher}
    )
    assert rows == [{"c": 30}]
    log.close()


async def test_rows_written_before_a_migration_ship_with_newer_ones(
    tmp_path: Path, services: Services
) -> None:
    """A log that an older version began (rows without the columns a migration added since)
    and this one continued: both shapes land, and a resent range still counts once."""
    publisher = str(uuid.uuid4())
    log = IngestLog(tmp_path)
    log.recover()
    for n in range(6):
        row = _row(publisher, n)
        if n % 2:
            row.update(ivt=1, ivt_score=1000, ivt_reasons=["declared_bot"])
        await log.append(encode("events", row))
    shipper = Shipper(log, services.analytics)
    assert await shipper.drain() == 6
    Checkpoint(shipper.checkpoint.segment, 0, (shipper.checkpoint.segment, 0,
               shipper.checkpoint.offset)).save(tmp_path)  # fmt: skip
    assert await Shipper(log, services.analytics).drain() == 6  # the same range again
    rows = await services.analytics.query(
        "SELECT ivt, ivt_reasons, count() AS c FROM events WHERE publisher_id = {p:UUID} "
        "GROUP BY ivt, ivt_reasons ORDER BY ivt",
        {"p": publisher},
    )
    assert rows == [
        {"ivt": 0, "ivt_reasons": [], "c": 3},
        {"ivt": 1, "ivt_reasons": ["declared_bot"], "c": 3},
    ]
    log.close()


async def test_checkpoint_survives_and_shipping_resumes(tmp_path: Path, services: Services) -> None:
    publisher = str(uuid.uuid4())
    log = IngestLog(tmp_path)
    log.recover()
    for n in range(5):
        await log.append(encode("events", _row(publisher, n)))
    assert await Shipper(log, services.analytics).drain() == 5
    for n in range(5, 8):
        await log.append(encode("events", _row(publisher, n)))
    assert await Shipper(log, services.analytics).drain() == 3  # resumes after the checkpoint
    rows = await services.analytics.query(
        "SELECT count() AS c FROM events WHERE publisher_id = {p:UUID}", {"p": publisher}
    )
    assert rows == [{"c": 8}]
    log.close()


async def test_a_batch_clickhouse_refuses_is_set_aside_and_the_rest_flows(
    tmp_path: Path, services: Services
) -> None:
    publisher = str(uuid.uuid4())
    log = IngestLog(tmp_path)
    log.recover()
    bad = {**_row(publisher, 0), "app_id": "not-a-uuid"}
    await log.append(encode("events", bad))
    await log.append(encode("events", _row(publisher, 2)))  # a good one in the same batch
    shipper = Shipper(log, services.analytics)
    for _ in range(MAX_ATTEMPTS - 1):
        with pytest.raises(AnalyticsError):
            await shipper.ship_once()
    await shipper.ship_once()  # the fifth failure with ClickHouse up: set aside
    await log.append(encode("events", _row(publisher, 1)))
    assert await shipper.drain() == 1
    rows = await services.analytics.query(
        "SELECT count() AS c FROM events WHERE publisher_id = {p:UUID}", {"p": publisher}
    )
    assert rows == [{"c": 2}]  # the good rows went in, including the one beside the bad one
    kept = [json.loads(line) for line in (tmp_path / DEAD_LETTER).read_text().splitlines()]
    assert [k["row"]["app_id"] for k in kept] == ["not-a-uuid"]
    log.close()


@pytest.mark.parametrize("table", ["events", "auctions", "bids", "sdk_telemetry"])
async def test_every_shipped_table_drops_a_resent_batch(services: Services, table: str) -> None:
    """The shipper resends a batch with the same token after a crash: every table it feeds
    must keep a deduplication window, or the resent copy would count twice."""
    rows = await services.analytics.query(
        "SELECT engine_full FROM system.tables WHERE database = currentDatabase() "
        "AND name = {t:String}",
        {"t": table},
    )
    assert "non_replicated_deduplication_window = 1000" in rows[0]["engine_full"]
