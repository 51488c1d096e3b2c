"""The durable ingest log: an append-only local file with group commit.

A beacon is acknowledged only after its record is written and fsync'ed, so an event that got a
2xx survives the process being killed the next instant. Concurrent appends are committed
together: whoever arrives while a flush is running waits for the next one, which writes every
waiting record with one write and one fsync (group commit), so the fsync cost is shared.

Records: [u32 length][u32 crc32][payload], payload = msgpack. A crash can leave a torn record at
the end of the last segment; it was never acknowledged, and `recover()` cuts it off. Segments
roll over at `segment_bytes`; the shipper (shipper.py) reads them in order and deletes those it
has delivered.
"""

from __future__ import annotations

import asyncio
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HEADER = struct.Struct("<II")
SEGMENT_GLOB = "seg-*.log"
DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024


def segment_name(number: int) -> str:
    return f"seg-{number:010d}.log"


def segment_number(path: Path) -> int:
    return int(path.stem.split("-", 1)[1])


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob(SEGMENT_GLOB), key=segment_number)


@dataclass(frozen=True)
class Record:
    segment: int
    offset: int  # where the record starts
    end: int  # where the next one starts
    payload: bytes


def read_records(path: Path, start: int = 0) -> Iterator[Record]:
    """Complete, intact records from `start`; stops at the first torn or corrupt one."""
    number = segment_number(path)
    with path.open("rb") as handle:
        handle.seek(start)
        offset = start
        while True:
            header = handle.read(HEADER.size)
            if len(header) < HEADER.size:
                return
            length, crc = HEADER.unpack(header)
            payload = handle.read(length)
            if len(payload) < length or zlib.crc32(payload) != crc:
                return
            end = offset + HEADER.size + length
            yield Record(number, offset, end, payload)
            offset = end


def _valid_length(path: Path) -> int:
    end = 0
    for record in read_records(path):
        end = record.end
    return end


class IngestLog:
    def __init__(self, directory: Path, segment_bytes: int = DEFAULT_SEGMENT_BYTES) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self._pending: list[tuple[bytes, asyncio.Future[None] | None]] = []
        self._flushing: asyncio.Task[None] | None = None
        self._fd = -1
        self._segment = 0
        self._size = 0

    # -- opening --------------------------------------------------------------------------------
    def recover(self) -> None:
        """Open the last segment for appending, cutting off a torn tail left by a crash."""
        self.directory.mkdir(parents=True, exist_ok=True)
        existing = segments(self.directory)
        if existing:
            last = existing[-1]
            valid = _valid_length(last)
            if valid != last.stat().st_size:
                with last.open("r+b") as handle:
                    handle.truncate(valid)
                    os.fsync(handle.fileno())
            self._open(segment_number(last))
        else:
            self._open(1)

    def _open(self, number: int) -> None:
        if self._fd >= 0:
            os.close(self._fd)
        path = self.directory / segment_name(number)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._segment = number
        self._size = os.fstat(self._fd).st_size
        # The new file's directory entry must be durable too.
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    @property
    def current_segment(self) -> int:
        return self._segment

    # -- appending ------------------------------------------------------------------------------
    async def append(self, payload: bytes) -> None:
        """Return once `payload` is on disk (written and fsync'ed)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((payload, future))
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush_loop())
        await future

    def submit(self, payload: bytes) -> None:
        """Append without waiting: durable within one group commit (auction records, which must
        not delay the response). A crash in that window can lose it; beacons use `append`."""
        self._pending.append((payload, None))
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush_loop())

    async def sync(self) -> None:
        """Wait until everything submitted so far is on disk."""
        while self._flushing is not None:
            await asyncio.shield(self._flushing)

    async def _flush_loop(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                data = b"".join(HEADER.pack(len(p), zlib.crc32(p)) + p for p, _ in batch)
                try:
                    await asyncio.to_thread(self._write, data)
                except BaseException as exc:
                    for _, future in batch:
                        if future is not None and not future.done():
                            future.set_exception(
                                exc
                                if isinstance(exc, Exception)
                                else OSError("ingest log write cancelled")
                            )
                    raise
                for _, future in batch:
                    if future is not None and not future.done():
                        future.set_result(None)
        finally:
            self._flushing = None

    def _write(self, data: bytes) -> None:
        if self._size and self._size + len(data) > self.segment_bytes:
            self._open(self._segment + 1)
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        os.fdatasync(self._fd)  # data and the file's new size: enough to survive a crash
        self._size += len(data)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
