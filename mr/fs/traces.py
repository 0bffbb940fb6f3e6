"""A request's trace document: what the trace tools show, kept in the workflow's shared
filesystem after etcd's records of the request are gone.

etcd holds a done request's invocation records only while it runs (cleanup keeps etcd small),
so the process that ends it writes them here, read in the very transaction that deletes them
(mr.engine.request_protocol.end_request). One gzip'd JSON-lines file per request: a header
line with the request record, then one line per invocation record as shown, with its attempt
logs, in key order. Lines let a reader build a tree in bounded memory, as it does from etcd's
pages.

    traces/<start>+<span>/<rid>.jsonl.gz   a request that ended in [start, start+span)
    traces/named/<rid>.jsonl.gz            a named request's: kept as long as the request

Documents expire MR_TRACE_RETENTION_S after their request ended, a whole bucket directory at
a time, so the sweeper lists one directory per pass instead of looking at every request. A
bucket spans a hundredth of the retention (1 s to an hour): a document goes at most that late.
Its span is in its name, so a process with another retention still reads and expires it.
"""
from __future__ import annotations

import gzip
import io
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import fields

from mr.fs.base import WorkflowFS
from mr.kv.client import Entry
from mr.kv.models import Invocation, Request, as_shown, decode

log = logging.getLogger(__name__)

TRACES = "traces"
NAMED = "named"
SUFFIX = ".jsonl.gz"
FORMAT = 1
MAX_SPAN_S = 3600


def bucket_span(retention_s: float) -> int:
    """Seconds a bucket directory covers: 1 % of the retention, from 1 s up to an hour."""
    return max(1, min(MAX_SPAN_S, int(retention_s // 100)))


def _bucket(name: str) -> tuple[int, int] | None:
    """(start, span) of a bucket directory's name, None for any other name."""
    start, sep, span = name.partition("+")
    if not sep or not start.isdigit() or not span.isdigit():
        return None
    return int(start), int(span)


def path_for(request: Request, retention_s: float) -> str:
    """Where the document of `request` (ended) goes."""
    if request.name:
        return f"{TRACES}/{NAMED}/{request.id}{SUFFIX}"
    span = bucket_span(retention_s)
    start = int(request.finished or 0) // span * span
    return f"{TRACES}/{start:012d}+{span}/{request.id}{SUFFIX}"


def _plain(value):
    """JSON for what msgpack records may hold beyond JSON's types (bytes)."""
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", errors="replace")
    return repr(value)


def _line(data: dict) -> bytes:
    return json.dumps(data, default=_plain, separators=(",", ":")).encode() + b"\n"


def logs_by_invocation(entries: Iterable[Entry], prefix: str) -> dict[str, dict[int, str]]:
    """Attempt logs (keys `<prefix><iid>/<attempt>`, mr.kv.keys.attempt_log) by invocation."""
    found: dict[str, dict[int, str]] = {}
    for entry in entries:
        iid, _, attempt = entry.key[len(prefix):].rpartition("/")
        found.setdefault(iid, {})[int(attempt)] = entry.value.decode(errors="replace")
    return found


def encode_document(request: Request, records: Iterable[bytes],
                    logs: dict[str, dict[int, str]]) -> bytes:
    """The gzip'd document: `records` are the invocations as etcd holds them, in key order."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=1, mtime=0) as out:
        out.write(_line({"format": FORMAT, "request": vars(request)}))
        for record in records:
            inv = as_shown(decode(Invocation, record), request.state)
            data = dict(vars(inv))
            data["attempt_logs"] = [{"attempt": n, "log": text}
                                    for n, text in sorted(logs.get(inv.id, {}).items())]
            out.write(_line(data))
    return buffer.getvalue()


def write(wfs: WorkflowFS, request: Request, records: Iterable[bytes],
          logs: dict[str, dict[int, str]], retention_s: float) -> str:
    """Write the document of ended `request` (replacing an earlier end's); its path."""
    path = path_for(request, retention_s)
    wfs.write_bytes(path, encode_document(request, records, logs))
    return path


def find(wfs: WorkflowFS, rid: str, finished: float | None = None) -> str | None:
    """The path of request `rid`'s document, if one is kept. With `finished` (its record's end)
    only the bucket holding that time is looked in; without (its record is gone too), every
    bucket, newest first: one existence check per bucket."""
    named = f"{TRACES}/{NAMED}/{rid}{SUFFIX}"
    if wfs.exists(named):
        return named
    buckets = [(b, name) for name in wfs.listdir(TRACES) if (b := _bucket(name)) is not None] \
        if wfs.isdir(TRACES) else []
    for (start, span), name in sorted(buckets, reverse=True):
        if finished is not None and not start <= finished < start + span:
            continue
        path = f"{TRACES}/{name}/{rid}{SUFFIX}"
        if wfs.exists(path):
            return path
    return None


class Document:
    """A kept trace, read line by line: nothing but the request is held in memory."""

    def __init__(self, wfs: WorkflowFS, path: str):
        self.wfs, self.path = wfs, path
        with self._lines() as lines:
            header = json.loads(next(lines))
        if header.get("format") != FORMAT:
            raise ValueError(f"trace document {path}: unknown format {header.get('format')!r}")
        known = {f.name for f in fields(Request)}
        self.request = Request(**{k: v for k, v in header["request"].items() if k in known})

    def _lines(self):
        return gzip.open(self.wfs.open(self.path, "rb"), "rt", encoding="utf-8")

    def records(self) -> Iterator[dict]:
        """Each invocation as shown, with its `attempt_logs`, in key order."""
        with self._lines() as lines:
            next(lines)
            for line in lines:
                yield json.loads(line)

    def invocations(self, ids: Iterable[str] | None = None) -> Iterator[Invocation]:
        """The invocations (those of `ids` only, when given), without their attempt logs."""
        wanted = None if ids is None else set(ids)
        known = {f.name for f in fields(Invocation)}
        for data in self.records():
            if wanted is None or data["id"] in wanted:
                yield Invocation(**{k: v for k, v in data.items() if k in known})

    def record(self, iid: str) -> dict | None:
        """One invocation as shown, with its `attempt_logs` (mr.trace.store.with_logs)."""
        return next((data for data in self.records() if data["id"] == iid), None)


def open_document(wfs: WorkflowFS, rid: str, finished: float | None = None) -> Document | None:
    path = find(wfs, rid, finished)
    return Document(wfs, path) if path else None


def expire(wfs: WorkflowFS, now: float, retention_s: float) -> int:
    """Remove the bucket directories whose every document ended over `retention_s` ago; how
    many. One listing of traces/ per call."""
    if not wfs.isdir(TRACES):
        return 0
    removed = 0
    for name in wfs.listdir(TRACES):
        bucket = _bucket(name)
        if bucket is not None and bucket[0] + bucket[1] + retention_s <= now:
            removed += wfs.delete(f"{TRACES}/{name}")
    return removed
