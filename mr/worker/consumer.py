"""The worker's NSQ side: pynsq Readers on a Tornado loop that never waits on a handler.

Each message is handed to a thread pool (--concurrency); the loop keeps heartbeating, TOUCHes
messages whose handlers run long, and FINishes a message only once its outcome is durable.
Each topic has its own number of messages in flight: the data plane's topics few (a worker
takes a split only when it has a core for it), the others --concurrency.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import nsq
import tornado.ioloop

from mr.engine.outcome import Outcome
from mr.engine.runner import Retry
from mr.queue.messages import BadMessage
from mr.worker.nsqd_link import Reconnector

log = logging.getLogger(__name__)

Process = Callable[[bytes, str, int], str]


class Consumer:
    def __init__(self, topics: dict[str, int], channel: str, process: Process,
                 nsqd_tcp: list[str], lookupd_http: list[str], msg_timeout_s: float,
                 connection_options: dict | None = None):
        """`topics`: each topic and how many of its messages run at once;
        `connection_options`: extra pynsq connection arguments (TLS: nsqd_link)."""
        self.topics = topics
        self.channel = channel
        self.process = process
        self.nsqd_tcp = nsqd_tcp
        self.lookupd_http = lookupd_http
        self.msg_timeout_s = msg_timeout_s
        self.connection_options = connection_options or {}
        self.reconnector: Reconnector | None = None
        self.pool = ThreadPoolExecutor(sum(topics.values()), thread_name_prefix="invocation")
        self.in_flight: dict[bytes, nsq.Message] = {}
        self.readers: list[nsq.Reader] = []
        self.loop: tornado.ioloop.IOLoop | None = None
        self._stopping = False
        # Finished runs wait here for the loop; one wake-up settles all that finished meanwhile.
        self._finished: deque[tuple[nsq.Message, Future]] = deque()
        self._finished_lock = threading.Lock()
        self._settling = False

    def run(self) -> None:
        """Consume until SIGTERM/SIGINT, then drain in-flight work and return."""
        loop = self.loop = tornado.ioloop.IOLoop.current()
        for name, in_flight in self.topics.items():
            addresses = ({"lookupd_http_addresses": [f"http://{a}" for a in self.lookupd_http]}
                         if self.lookupd_http else {"nsqd_tcp_addresses": self.nsqd_tcp})
            self.readers.append(nsq.Reader(
                topic=name, channel=self.channel, message_handler=self._on_message,
                max_in_flight=in_flight, max_tries=0, lookupd_poll_interval=5,
                msg_timeout=int(self.msg_timeout_s), heartbeat_interval=10,
                user_agent="mr-worker", **addresses, **self.connection_options))
        if not self.lookupd_http:
            self.reconnector = Reconnector(self.readers, self.nsqd_tcp).start()
        touch_every = max(self.msg_timeout_s / 3, 0.5) * 1000
        tornado.ioloop.PeriodicCallback(self._touch_running, touch_every).start()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: loop.add_callback_from_signal(self.stop))
        loop.start()

    @property
    def _loop(self) -> tornado.ioloop.IOLoop:
        """run()'s loop: what calls for it (stop(), a finished run) comes once run() started."""
        assert self.loop is not None
        return self.loop

    def stop(self, drain_timeout: float = 20.0) -> None:
        """Stop taking messages; let running invocations finish (and FIN) before closing."""
        if self._stopping:
            return
        self._stopping = True
        if self.reconnector is not None:
            self.reconnector.stop()
        log.info("stopping: %d invocation(s) in flight", len(self.in_flight))
        for reader in self.readers:
            reader.set_max_in_flight(0)
        deadline = time.monotonic() + drain_timeout

        def finish_when_drained() -> None:
            if self.in_flight and time.monotonic() < deadline:
                self._loop.call_later(0.05, finish_when_drained)
                return
            for reader in self.readers:
                reader.close()
            self.pool.shutdown(wait=False, cancel_futures=True)
            self._loop.stop()
        finish_when_drained()

    def _on_message(self, message: nsq.Message) -> None:
        message.enable_async()
        self.in_flight[message.id] = message
        future = self.pool.submit(self.process, message.body, message.id.decode(errors="replace"),
                                  message.attempts)
        future.add_done_callback(lambda f: self._finish_later(message, f))

    def _finish_later(self, message: nsq.Message, future: Future) -> None:
        """From a pool thread: hand the outcome to the loop, waking it only if it is not
        already settling (a wake-up is a syscall and a loop turn)."""
        with self._finished_lock:
            self._finished.append((message, future))
            if self._settling:
                return
            self._settling = True
        self._loop.add_callback(self._settle_finished)

    def _settle_finished(self) -> None:
        while True:
            with self._finished_lock:
                if not self._finished:
                    self._settling = False
                    return
                finished = list(self._finished)
                self._finished.clear()
            for message, future in finished:
                self._settle(message, future)

    def _settle(self, message: nsq.Message, future: Future) -> None:
        self.in_flight.pop(message.id, None)
        if message.has_responded():
            return
        error = future.exception()
        if error is None:
            if future.result() == Outcome.NOT_MANAGED:
                log.error("dropping message %s: it names a workflow this worker does not "
                          "serve (%r)", message.id, message.body[:200])
            message.finish()
        elif isinstance(error, BadMessage):
            log.error("dropping message %s: %s", message.id, error)
            message.finish()
        elif isinstance(error, Retry):
            log.info("requeue %s in %.2fs: %s", message.id, error.delay, error)
            message.requeue(backoff=False, time_ms=int(error.delay * 1000))
        else:
            # etcd or NSQ trouble (the runner fails the request on other errors of its own,
            # mr.engine.faults): the outcome is not durable, so the message must come back.
            log.warning("requeue %s after %s: %s", message.id, error.__class__.__name__, error)
            delay_ms = min(1000 * message.attempts, 30000)
            message.requeue(backoff=False, time_ms=delay_ms)

    def _touch_running(self) -> None:
        for message in list(self.in_flight.values()):
            if not message.has_responded():
                message.touch()
