"""On-disk persistence: one append-only segmented log per topic/channel, plus metadata.

Crash guarantee (documented in the README): a record is handed to the OS with one
write() when it is queued, so a killed broker process loses none of it; it is fsynced
every `sync_every` records or `sync_timeout`, whichever comes first, so a power loss
loses at most what was written since the last sync. Records carry a CRC, so a torn
tail is detected and truncated on start-up. The read position is persisted on sync:
after a crash, records read since the last sync are delivered again (at least once).
"""
from __future__ import annotations

import io
import json
import logging
import os
import struct
import zlib
from pathlib import Path

log = logging.getLogger("mr.broker")

_RECORD = struct.Struct(">II")  # payload length, crc32 of payload
METADATA_FILE = "mr_broker.dat"


def _safe(name: str) -> str:
    """File-name part for a topic/channel name (names are already [.a-zA-Z0-9_-#])."""
    return name.replace("#", "%23")


class DiskQueue:
    """A FIFO of byte records in numbered segment files, read and written sequentially."""

    def __init__(self, directory: Path, name: str, max_bytes_per_file: int,
                 sync_every: int, max_record_size: int) -> None:
        self._dir = Path(directory)
        self._prefix = _safe(name) + ".diskqueue."
        self._max_bytes = max_bytes_per_file
        self._sync_every = max(1, sync_every)
        self._max_record = max_record_size
        self._unsynced = 0
        self._dirty = False
        self._reader: io.BufferedReader | None = None
        self._writer: io.FileIO | None = None
        self.depth = 0
        self._dir.mkdir(parents=True, exist_ok=True)
        self._open()

    # -- files ------------------------------------------------------------------------------
    def _segment(self, number: int) -> Path:
        return self._dir / f"{self._prefix}{number:06d}.dat"

    def _meta_path(self) -> Path:
        return self._dir / f"{self._prefix}meta.json"

    def _segments(self) -> list[int]:
        numbers = []
        for path in self._dir.glob(self._prefix + "*.dat"):
            suffix = path.name[len(self._prefix):-4]
            if suffix.isdigit():
                numbers.append(int(suffix))
        return sorted(numbers)

    def _open(self) -> None:
        """Recover state from the files: truncate torn tails, count what is left to read."""
        segments = self._segments()
        read_file, read_pos = (segments[0] if segments else 0), 0
        meta = self._meta_path()
        if meta.exists():
            try:
                data = json.loads(meta.read_text())
                read_file, read_pos = int(data["read_file"]), int(data["read_pos"])
            except (ValueError, KeyError):
                log.warning("DISKQUEUE(%s): unreadable metadata, reading from the start",
                            self._prefix)
        if segments and read_file not in segments:
            read_file, read_pos = segments[0], 0
        if read_file in segments:
            read_pos = min(read_pos, self._segment(read_file).stat().st_size)
        for number in segments:
            if number < read_file:
                self._segment(number).unlink()
        self.depth = 0
        for number in (n for n in segments if n >= read_file):
            start = read_pos if number == read_file else 0
            self.depth += self._scan(self._segment(number), start)
        self._read_file, self._read_pos = read_file, read_pos
        self._write_file = segments[-1] if segments and segments[-1] >= read_file else read_file
        path = self._segment(self._write_file)
        self._write_pos = path.stat().st_size if path.exists() else 0

    def _scan(self, path: Path, start: int) -> int:
        """Count whole, valid records from `start`; truncate the file after the last one."""
        count = 0
        with open(path, "r+b") as f:
            f.seek(start)
            pos = start
            while True:
                header = f.read(_RECORD.size)
                if len(header) < _RECORD.size:
                    break
                size, crc = _RECORD.unpack(header)
                if size <= 0 or size > self._max_record:
                    break
                payload = f.read(size)
                if len(payload) < size or zlib.crc32(payload) != crc:
                    break
                pos += _RECORD.size + size
                count += 1
            if pos != os.fstat(f.fileno()).st_size:
                log.warning("DISKQUEUE(%s): truncating torn tail of %s at %d",
                            self._prefix, path.name, pos)
                f.truncate(pos)
        return count

    # -- queue operations ---------------------------------------------------------------------
    def put(self, payloads: list[bytes]) -> None:
        """Append records with one write() per segment, then sync if the policy says so."""
        chunk: list[bytes] = []
        chunk_bytes = 0
        for payload in payloads:
            size = _RECORD.size + len(payload)
            if self._write_pos + chunk_bytes + size > self._max_bytes and \
                    self._write_pos + chunk_bytes > 0:
                self._write(chunk)
                self._roll()
                chunk, chunk_bytes = [], 0
            chunk.append(_RECORD.pack(len(payload), zlib.crc32(payload)))
            chunk.append(payload)
            chunk_bytes += size
        self._write(chunk)
        self.depth += len(payloads)
        self._unsynced += len(payloads)
        self._dirty = True
        if self._unsynced >= self._sync_every:
            self.sync()

    def _write(self, chunk: list[bytes]) -> None:
        if not chunk:
            return
        if self._writer is None:
            self._writer = open(self._segment(self._write_file), "ab", buffering=0)
        data = b"".join(chunk)
        view = memoryview(data)
        while view:
            view = view[self._writer.write(view):]
        self._write_pos += len(data)

    def _roll(self) -> None:
        if self._writer is not None:
            os.fsync(self._writer.fileno())
            self._writer.close()
            self._writer = None
        self._write_file += 1
        self._write_pos = 0

    def pop(self) -> bytes | None:
        """The oldest record, or None when empty."""
        if self.depth == 0:
            return None
        while True:
            reader = self._reader
            if reader is None:
                reader = self._reader = open(self._segment(self._read_file), "rb")
                reader.seek(self._read_pos)
            header = reader.read(_RECORD.size)
            if len(header) == _RECORD.size:
                break
            # End of a finished segment: move on and delete it.
            reader.close()
            self._reader = None
            done = self._segment(self._read_file)
            self._read_file += 1
            self._read_pos = 0
            done.unlink()
        size, _ = _RECORD.unpack(header)
        payload = reader.read(size)
        self._read_pos += _RECORD.size + size
        self.depth -= 1
        self._dirty = True
        return payload

    def sync(self) -> None:
        """fsync written records, then persist the read position."""
        if not self._dirty:
            return
        if self._writer is not None:
            os.fsync(self._writer.fileno())
        tmp = self._meta_path().with_suffix(".tmp")
        with open(tmp, "w") as f:
            json.dump({"read_file": self._read_file, "read_pos": self._read_pos}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._meta_path())
        self._unsynced = 0
        self._dirty = False

    def close(self) -> None:
        self.sync()
        for handle in (self._reader, self._writer):
            if handle is not None:
                handle.close()
        self._reader = self._writer = None

    def delete(self) -> None:
        """Remove every file of this queue (topic/channel deleted or emptied)."""
        for handle in (self._reader, self._writer):
            if handle is not None:
                handle.close()
        self._reader = self._writer = None
        for number in self._segments():
            self._segment(number).unlink()
        self._meta_path().unlink(missing_ok=True)
        self._read_file = self._write_file = self._write_file + 1
        self._read_pos = self._write_pos = 0
        self.depth = 0
        self._unsynced = 0
        self._dirty = False


def save_metadata(directory: Path, topics: list[dict]) -> None:
    """Persist which topics/channels exist and which are paused (like nsqd.dat)."""
    path = Path(directory) / METADATA_FILE
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as f:
        json.dump({"topics": topics}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_metadata(directory: Path) -> list[dict]:
    path = Path(directory) / METADATA_FILE
    if not path.exists():
        return []
    return json.loads(path.read_text()).get("topics", [])
