"""Drive pynsq's Reader and Writer from synchronous tests, on a private event loop."""
from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
import urllib.request
from collections.abc import Callable

import nsq


class NsqLoop:
    """An asyncio loop that runs pynsq until a condition holds or a deadline passes."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.clients: list = []

    def reader(self, broker, topic: str, channel: str, handler: Callable, **kwargs) -> nsq.Reader:
        kwargs.setdefault("max_in_flight", 10)
        kwargs.setdefault("requeue_delay", 0)
        reader = nsq.Reader(topic=topic, channel=channel, message_handler=handler,
                            nsqd_tcp_addresses=[broker.tcp_address], **kwargs)
        self.clients.append(reader)
        return reader

    def writer(self, broker, **kwargs) -> nsq.Writer:
        writer = nsq.Writer([broker.tcp_address], **kwargs)
        self.clients.append(writer)
        self.run_until(lambda: any(c.connected() for c in writer.conns.values()),
                       message="writer connected")
        return writer

    def publish(self, writer: nsq.Writer, command: str, *args) -> None:
        """Run writer.pub/mpub/dpub and wait for the broker's answer; fail on an error."""
        answers = []
        getattr(writer, command)(*args, callback=lambda conn, data: answers.append(data))
        self.run_until(lambda: answers, message=f"{command} answered")
        assert answers[0] == b"OK", answers[0]

    def run_until(self, condition: Callable, timeout: float = 10.0, message: str = "condition"):
        async def wait():
            deadline = time.monotonic() + timeout
            while True:
                value = condition()
                if value:
                    return value
                if time.monotonic() > deadline:
                    raise TimeoutError(f"timed out after {timeout}s waiting for {message}")
                await asyncio.sleep(0.01)
        return self.loop.run_until_complete(wait())

    def close(self) -> None:
        for client in self.clients:
            if isinstance(client, nsq.Reader):
                client.close()
            else:  # a Writer has no close(): close its connections
                for conn in list(client.conns.values()):
                    conn.close()
        for _ in range(3):  # let the close callbacks run before the loop goes away
            self.loop.run_until_complete(asyncio.sleep(0))
        self.loop.close()
        asyncio.set_event_loop(None)


def channel_stats(broker, topic: str, channel: str) -> dict | None:
    query = urllib.parse.urlencode({"format": "json", "topic": topic, "channel": channel})
    url = broker.url(f"/stats?{query}")
    with urllib.request.urlopen(url, timeout=5) as reply:
        stats = json.load(reply)
    for t in stats["topics"]:
        for c in t["channels"]:
            if c["channel_name"] == channel:
                return c
    return None
