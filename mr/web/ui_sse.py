"""Live updates of the web view: Server-Sent Events fed by etcd watches, never by polling.

A stream is a generator that gunicorn's gevent worker writes chunk by chunk. Watches and
progress followers run in background greenlets and put what they see on one queue; the
generator turns it into events. When nothing happened for HEARTBEAT_S it writes a comment:
that write is what fails once the browser has gone, and gunicorn then closes the generator,
whose `finally` stops every background task and cancels its watches. A stream also ends after
MAX_STREAM_S (the browser reconnects by itself and gets a fresh snapshot) and, for a request,
when the request ends.

    overview:  one watch on the workflow's request records (new, ended, retried, removed), one
               on the live workers, and mr.engine.progress.follow for each running request
               shown (at most ui_data.RECENT);
    request:   mr.engine.progress.follow on the request (one watch on its keys).
"""
from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from mr.engine import progress as tracker
from mr.kv import keys
from mr.kv.models import ROOT_INVOCATION as ROOT
from mr.kv.models import RUNNING, Request, decode
from mr.kv.store import Store
from mr.web import ui_data, ui_render

log = logging.getLogger(__name__)

HEARTBEAT_S = 10.0
RETRY_MS = 2000          # how soon a browser reconnects after a stream broke
MAX_STREAM_S = 900.0
SIDE_EVERY_S = 2.0       # workers' load and queue depth: re-read at most this often
FOLLOW_INTERVAL_S = 0.3  # progress: at most one read per this while changes pour in
END = object()


def sse(event: str, data) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _spawn(target: Callable[[], None]) -> Callable[[], None]:
    """Run target in the background; returns what stops it (a greenlet is killed where it
    waits; a plain thread, outside gevent, only ends with its source)."""
    try:
        from gevent import monkey
        patched = monkey.is_module_patched("threading")
    except ImportError:
        patched = False
    if patched:
        import gevent
        greenlet = gevent.spawn(target)
        return lambda: greenlet.kill(block=False)
    threading.Thread(target=target, name="ui-feed", daemon=True).start()
    return lambda: None


class Feed:
    """Background sources, each putting (key, item) on one queue, then (key, END) or
    (key, exception). What an item is depends on its source, which the key names."""

    def __init__(self) -> None:
        self.items: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._stops: dict[str, Callable[[], None]] = {}

    def add(self, key: str, source: Iterable, cancel: Callable[[], None] | None = None) -> None:
        def pump() -> None:
            try:
                for item in source:
                    self.items.put((key, item))
                self.items.put((key, END))
            except Exception as exc:  # handed to the stream, which says so and ends
                self.items.put((key, exc))
        kill = _spawn(pump)

        def stop() -> None:
            if cancel is not None:
                cancel()
            kill()
        self._stops[key] = stop

    def watch(self, key: str, kv: Store, prefix: str, revision: int) -> None:
        watch = kv.watch_prefix(prefix, revision + 1)
        self.add(key, watch, watch.cancel)

    def running(self, key: str) -> bool:
        return key in self._stops

    def stop(self, key: str) -> None:
        stop = self._stops.pop(key, None)
        if stop is not None:
            stop()

    def next(self, timeout: float) -> list[tuple[str, Any]]:
        """What arrived: waits up to `timeout` for the first item, then takes all queued."""
        try:
            batch = [self.items.get(timeout=max(timeout, 0.0))]
        except queue.Empty:
            return []
        while True:
            try:
                batch.append(self.items.get_nowait())
            except queue.Empty:
                return batch

    def close(self) -> None:
        for key in list(self._stops):
            self.stop(key)


def _lasting(feed: Feed, events: Callable[[], Iterator[bytes]]) -> Iterator[bytes]:
    """The common frame: reconnect delay first, the feed stopped whatever ends the stream."""
    try:
        yield f"retry: {RETRY_MS}\n\n".encode()
        yield from events()
    except Exception as exc:  # etcd went away mid-stream: say so; the browser reconnects
        log.warning("web view stream ended: %s", exc)
        yield sse("broken", {"error": f"{exc.__class__.__name__}: {exc}"})
    finally:
        feed.close()


# --- the overview ------------------------------------------------------------------------
class _Overview:
    def __init__(self, front_end, wf: str):
        self.kv: Store = front_end.kv
        self.settings = front_end.settings
        self.wf = wf
        self.feed = Feed()
        self.shown: list[str] = []              # request ids on the page, newest first
        self.requests: dict[str, Request] = {}

    def snapshot(self) -> bytes:
        rows = ui_data.recent(self.kv, self.wf)
        self.shown = [r.id for r in rows]
        self.requests = {r.id: r.request for r in rows}
        for rid in self.shown:
            self._follow(rid)
        return sse("snapshot", {"counts": self.counts(), "rows": ui_render.request_rows(
            self.wf, rows), **self.side()})

    def counts(self) -> str:
        return ui_render.counts(ui_data.state_counts(self.kv, self.wf))

    def side(self) -> dict[str, str]:
        return {"workers": ui_render.workers(ui_data.workers(self.kv, self.wf)),
                "queues": ui_render.queues(ui_data.queues(self.settings.nsqd_http_hosts,
                                                          self.wf))}

    def _follow(self, rid: str) -> None:
        request = self.requests.get(rid)
        key = f"p:{rid}"
        if request is not None and request.state == RUNNING and not self.feed.running(key):
            self.feed.add(key, tracker.follow(self.kv, self.wf, rid, ROOT,
                                              FOLLOW_INTERVAL_S))

    def _row(self, request: Request, progress: tracker.Progress | None = None) -> bytes:
        row = (ui_data.Row(request, progress) if progress is not None
               else ui_data.row(self.kv, request))
        return sse("row", {"id": request.id, "state": request.state,
                           "html": ui_render.request_row(self.wf, row)})

    def _request_changed(self, event) -> Iterator[bytes]:
        rid = keys.request_id_of(event.entry.key)
        if event.kind == "delete":
            self.requests.pop(rid, None)
            self.feed.stop(f"p:{rid}")
            if rid in self.shown:
                self.shown.remove(rid)
            yield sse("gone", {"id": rid})
            return
        request = decode(Request, event.entry.value)
        oldest = self.requests.get(self.shown[-1]) if self.shown else None
        if rid not in self.shown and request.state != RUNNING and oldest is not None and \
                len(self.shown) >= ui_data.RECENT and request.created < oldest.created:
            return  # an old request changed (expired, say): not among the newest shown
        if rid not in self.shown:
            self.shown.insert(0, rid)
            for dropped in self.shown[ui_data.RECENT:]:
                self.requests.pop(dropped, None)
                self.feed.stop(f"p:{dropped}")
            del self.shown[ui_data.RECENT:]
        self.requests[rid] = request
        if request.state != RUNNING:
            self.feed.stop(f"p:{rid}")
        self._follow(rid)
        yield self._row(request)

    def events(self) -> Iterator[bytes]:
        revision = self.kv.revision()  # the watches start after it: nothing falls between
        yield self.snapshot()
        self.feed.watch("requests", self.kv, keys.requests(self.wf), revision)
        self.feed.watch("workers", self.kv, keys.workers(), revision)
        side_at, side_due = time.monotonic(), False
        until = time.monotonic() + MAX_STREAM_S
        while time.monotonic() < until:
            wait = HEARTBEAT_S
            if side_due:
                wait = min(wait, side_at + SIDE_EVERY_S - time.monotonic())
            batch = self.feed.next(wait)
            if not batch and not side_due:
                yield b": keep-alive\n\n"
                continue
            counts_due = False
            for key, item in batch:
                if isinstance(item, Exception):
                    if key.startswith("p:"):
                        self.feed.stop(key)  # it ended or vanished: the record watch tells
                        continue
                    raise item
                if item is END:
                    self.feed.stop(key)
                elif key == "requests":
                    for event in item[1]:
                        yield from self._request_changed(event)
                    counts_due = side_due = True
                elif key == "workers":
                    side_due = True
                elif key.startswith("p:") and key[2:] in self.requests:
                    yield self._row(self.requests[key[2:]], item)
                    side_due = True
            if counts_due:
                yield sse("counts", {"html": self.counts()})
            if side_due and time.monotonic() >= side_at + SIDE_EVERY_S:
                yield sse("side", self.side())
                side_at, side_due = time.monotonic(), False


def overview_stream(front_end, wf: str) -> Iterator[bytes]:
    overview = _Overview(front_end, wf)
    return _lasting(overview.feed, overview.events)


# --- one request -------------------------------------------------------------------------
def request_stream(front_end, wf: str, rid: str) -> Iterator[bytes]:
    kv: Store = front_end.kv
    feed = Feed()

    def events() -> Iterator[bytes]:
        feed.add("progress", tracker.follow(kv, wf, rid, ROOT, FOLLOW_INTERVAL_S))
        state = None
        until = time.monotonic() + MAX_STREAM_S
        while time.monotonic() < until:
            batch = feed.next(HEARTBEAT_S)
            if not batch:
                yield b": keep-alive\n\n"
                continue
            latest = [item for _, item in batch if isinstance(item, tracker.Progress)]
            if latest:
                current = latest[-1]
                yield sse("progress", {"html": ui_render.progress_panel(current),
                                       "percent": current.percent, "state": current.state})
                if current.state != state:
                    state = current.state
                    yield _request_event(kv, wf, rid)
            for _, item in batch:
                if item is END or isinstance(item, Exception):
                    message = str(item) if isinstance(item, Exception) else ""
                    yield sse("end", {"state": state, "message": message})
                    return
    return _lasting(feed, events)


def _request_event(kv: Store, wf: str, rid: str) -> bytes:
    entry = kv.get(keys.request(wf, rid))
    if entry is None:
        return sse("gone", {"id": rid})
    request = decode(Request, entry.value)
    return sse("request", {"state": request.state, "summary": ui_render.summary(request),
                           "failure": ui_render.failure(request)})
