"""Ships the ingest log into ClickHouse: at-least-once delivery, exactly-once effect.

Each batch is a fixed range of one segment. Before inserting it, the shipper records the range
as pending in its checkpoint (atomically, fsync'ed); after a crash it resends exactly that range
with the same insert_deduplication_token, which ClickHouse drops as a duplicate, in the table and
in the materialized views. So a replay after a crash never counts an event twice. Delivered
segments are deleted once the writer has moved past them.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from prometheus_client import Counter, Gauge

from apex_mediation.stores.analytics import Analytics, AnalyticsError
from apex_mediation.tracking.ingest_log import (
    IngestLog,
    Record,
    read_records,
    segment_name,
    segments,
)

dead_letter_total = Counter(
    "ingest_dead_letter_records_total",
    "Ingest records ClickHouse refused, set aside in the log dir",
)
shipped_total = Counter("ingest_shipped_records_total", "Ingest records delivered", ["table"])
backlog_bytes = Gauge("ingest_backlog_bytes", "Ingest log bytes not yet delivered")
lag_seconds = Gauge("ingest_lag_seconds", "Age of the oldest undelivered ingest record")
CHECKPOINT = "checkpoint.json"
DEAD_LETTER = "dead-letter.jsonl"
# A batch that fails this often while ClickHouse answers is refused for its content, not for an
# outage: it is set aside (kept, never dropped) so the records behind it keep flowing.
MAX_ATTEMPTS = 5


class IngestRecord(msgspec.Struct, array_like=True):
    """One row for one table, stamped when it was accepted (for lag)."""

    table: str
    accepted_ms: int
    row: dict[str, Any]


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(IngestRecord)


def encode(table: str, row: dict[str, Any]) -> bytes:
    return _encoder.encode(IngestRecord(table, int(time.time() * 1000), row))


@dataclass
class Checkpoint:
    segment: int
    offset: int
    pending: tuple[int, int, int] | None = None  # (segment, start, end) being delivered

    @classmethod
    def load(cls, directory: Path) -> Checkpoint:
        try:
            doc = json.loads((directory / CHECKPOINT).read_text())
        except (OSError, ValueError):
            first = segments(directory)
            return cls(segment=int(first[0].stem.split("-")[1]) if first else 1, offset=0)
        pending = doc.get("pending")
        return cls(int(doc["segment"]), int(doc["offset"]), tuple(pending) if pending else None)

    def save(self, directory: Path) -> None:
        path = directory / CHECKPOINT
        temporary = path.with_suffix(".tmp")
        with temporary.open("w") as handle:
            json.dump(
                {
                    "segment": self.segment,
                    "offset": self.offset,
                    "pending": list(self.pending) if self.pending else None,
                },
                handle,
            )
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)


class Shipper:
    def __init__(self, log: IngestLog, analytics: Analytics, batch_records: int = 5000) -> None:
        self.log = log
        self.analytics = analytics
        self.batch_records = batch_records
        self.checkpoint = Checkpoint.load(log.directory)
        self._failures = 0
        self.backlog_bytes = 0  # as of the last round
        self.lag_s = 0.0
        # One delivery at a time: two rounds reading from the same checkpoint would cut
        # different ranges, and different ranges carry different dedup tokens.
        self._lock = asyncio.Lock()

    async def ship_once(self) -> int:
        """Deliver what is pending, then one batch; returns the records delivered."""
        async with self._lock:
            return await self._ship_once()

    async def _ship_once(self) -> int:
        delivered = 0
        if self.checkpoint.pending is not None:
            delivered += await self._deliver(*self.checkpoint.pending)
        path = self.log.directory / segment_name(self.checkpoint.segment)
        records = []
        if path.exists():
            for record in read_records(path, self.checkpoint.offset):
                records.append(record)
                if len(records) >= self.batch_records:
                    break
        if records:
            self.checkpoint.pending = (self.checkpoint.segment, records[0].offset, records[-1].end)
            self.checkpoint.save(self.log.directory)
            delivered += await self._deliver(*self.checkpoint.pending, records)
        elif self.checkpoint.segment < self.log.current_segment:
            self._next_segment(path)
        self._measure()
        return delivered

    async def drain(self, max_rounds: int = 10_000) -> int:
        """Ship until nothing is left (bounded), e.g. at shutdown or in tests."""
        total = 0
        for _ in range(max_rounds):
            shipped = await self.ship_once()
            total += shipped
            if not shipped and self.checkpoint.segment >= self.log.current_segment:
                path = self.log.directory / segment_name(self.checkpoint.segment)
                if not path.exists() or path.stat().st_size <= self.checkpoint.offset:
                    break
        return total

    async def _deliver(
        self, segment: int, start: int, end: int, records: list[Record] | None = None
    ) -> int:
        if records is None:
            path = self.log.directory / segment_name(segment)
            records = [r for r in read_records(path, start) if r.end <= end]
        # Grouped by table and by the rows' columns: a log written partly by an older version
        # (before a migration added columns) holds rows of both shapes in one range.
        by_shape: dict[tuple[str, tuple[str, ...]], list[dict[str, Any]]] = defaultdict(list)
        for record in records:
            decoded = _decoder.decode(record.payload)
            by_shape[(decoded.table, tuple(decoded.row))].append(decoded.row)
        shapes = sorted(by_shape.items())
        try:
            for n, ((table, _), rows) in enumerate(shapes):
                token = f"{segment}:{start}:{end}:{table}"
                if sum(1 for (other, _), _ in shapes if other == table) > 1:
                    token += f":{n}"  # deterministic: the same records give the same groups
                await self.analytics.insert(table, rows, dedup_token=token)
                shipped_total.labels(table).inc(len(rows))
        except AnalyticsError:
            self._failures += 1
            if self._failures < MAX_ATTEMPTS or not await self.analytics.ping():
                raise
            await self._deliver_one_by_one(segment, records)
        self._failures = 0
        self.checkpoint = Checkpoint(segment, end, None)
        self.checkpoint.save(self.log.directory)
        return len(records)

    async def _deliver_one_by_one(self, segment: int, records: list[Record]) -> None:
        """A refused batch, record by record: the good ones go in (each with a token of its
        own), only the refused ones are set aside."""
        refused = []
        for record in records:
            decoded = _decoder.decode(record.payload)
            token = f"{segment}:{record.offset}:{record.end}:{decoded.table}"
            try:
                await self.analytics.insert(decoded.table, [decoded.row], dedup_token=token)
                shipped_total.labels(decoded.table).inc()
            except AnalyticsError:
                refused.append(decoded)
        if not refused:
            return
        with (self.log.directory / DEAD_LETTER).open("a") as handle:
            for decoded in refused:
                entry = {"segment": segment, "table": decoded.table, "row": decoded.row}
                handle.write(json.dumps(entry, default=str) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        dead_letter_total.inc(len(refused))

    def _next_segment(self, finished: Path) -> None:
        self.checkpoint = Checkpoint(self.checkpoint.segment + 1, 0, None)
        self.checkpoint.save(self.log.directory)
        finished.unlink(missing_ok=True)

    def undelivered(self, table: str) -> Iterator[dict[str, Any]]:
        """Rows for `table` the log holds and ClickHouse may not have yet (at start, before
        shipping resumes: what an earlier run acknowledged)."""
        for path in segments(self.log.directory):
            number = int(path.stem.split("-")[1])
            if number < self.checkpoint.segment:
                continue
            start = self.checkpoint.offset if number == self.checkpoint.segment else 0
            for record in read_records(path, start):
                decoded = _decoder.decode(record.payload)
                if decoded.table == table:
                    yield decoded.row

    def _measure(self) -> None:
        backlog = 0
        oldest: float | None = None
        for path in segments(self.log.directory):
            number = int(path.stem.split("-")[1])
            if number < self.checkpoint.segment:
                continue
            start = self.checkpoint.offset if number == self.checkpoint.segment else 0
            backlog += max(path.stat().st_size - start, 0)
            if oldest is None and backlog:
                first = next(read_records(path, start), None)
                if first is not None:
                    oldest = _decoder.decode(first.payload).accepted_ms / 1000
        self.backlog_bytes = backlog
        self.lag_s = time.time() - oldest if oldest else 0.0
        backlog_bytes.set(self.backlog_bytes)
        lag_seconds.set(self.lag_s)
