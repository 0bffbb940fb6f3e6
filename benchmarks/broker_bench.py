"""End-to-end throughput of mr_broker: MPUB in, one pynsq Reader out (FIN per message).

    python -m benchmarks.broker_bench --messages 200000 --size 100 [--compression snappy]

Starts a broker on free loopback ports (or uses --tcp-address of a running one), a
publisher process that sends MPUB batches over a raw socket, and one pynsq Reader in this
process. Reports messages/s from the first publish to the last message received, and the
broker's peak resident memory. With --compression both connections negotiate it in
IDENTIFY: the publisher compresses with python-snappy or zlib, the Reader with pynsq's own.
"""
from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import multiprocessing
import os
import socket
import sys
import tempfile
import time
import zlib

import nsq
import snappy

from mr.broker.protocol import MAGIC_V2, encode_mpub, pack_length


class _Connection:
    """A raw protocol V2 connection, compressed as negotiated in IDENTIFY or not at all."""

    def __init__(self, address: str, compression: str) -> None:
        host, port = address.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)))
        self.sock.sendall(MAGIC_V2)
        self._buf = bytearray()
        self._compress = self._decompress = None
        # uncompressed, frames are read through a buffered file, as this benchmark always has
        self._file = self.sock.makefile("rb") if compression == "none" else None
        if compression == "none":
            return
        fields = {"feature_negotiation": True, compression: True}
        self.sendall(b"IDENTIFY\n" + pack_length(len(json.dumps(fields)))
                     + json.dumps(fields).encode())
        reply = json.loads(self.frame())
        if not reply.get(compression):
            raise SystemExit(f"the broker did not agree to {compression}: {reply}")
        if compression == "snappy":
            out, into = snappy.StreamCompressor(), snappy.StreamDecompressor()
            self._compress, self._decompress = out.compress, into.decompress
        else:
            level = reply.get("deflate_level", 6)
            deflate = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
            self._compress = lambda d: deflate.compress(d) + deflate.flush(zlib.Z_SYNC_FLUSH)
            self._decompress = zlib.decompressobj(-zlib.MAX_WBITS).decompress
        self._buf = bytearray(self._decompress(bytes(self._buf)))
        if self.frame() != b"OK":  # the first compressed frame
            raise SystemExit(f"no OK after starting {compression}")

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(data if self._compress is None else self._compress(data))

    def frame(self) -> bytes:
        """The next frame's data (its type is not needed here)."""
        if self._file is not None:
            header = self._file.read(8)
            return self._file.read(int.from_bytes(header[:4], "big") - 4)
        while True:
            if len(self._buf) >= 4:
                size = int.from_bytes(self._buf[:4], "big")
                if len(self._buf) >= 4 + size:
                    data = bytes(self._buf[8:4 + size])
                    del self._buf[:4 + size]
                    return data
            chunk = self.sock.recv(65536)
            if not chunk:
                raise SystemExit("the broker closed the connection")
            self._buf += chunk if self._decompress is None else self._decompress(chunk)


def _publish(address: str, topic: str, count: int, size: int, batch: int, window: int,
             compression: str) -> None:
    """Send `count` messages in MPUB batches, at most `window` batches unanswered."""
    conn = _Connection(address, compression)
    body = b"x" * size
    sent = answered = 0
    batches = (count + batch - 1) // batch
    while answered < batches:
        while sent < batches and sent - answered < window:
            n = min(batch, count - sent * batch)
            payload = encode_mpub([body] * n)
            conn.sendall(b"MPUB " + topic.encode() + b"\n" + pack_length(len(payload)) + payload)
            sent += 1
        data = conn.frame()
        if data == b"_heartbeat_":
            conn.sendall(b"NOP\n")
            continue
        if data != b"OK":
            raise SystemExit(f"publish failed: {data!r}")
        answered += 1
    conn.sock.close()


def _peak_rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (Linux)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(args: argparse.Namespace) -> float:
    broker = None
    tcp_address = args.tcp_address
    if tcp_address is None:
        from tests.support.broker import start_broker
        broker = start_broker(tempfile.mkdtemp(prefix="broker_bench-"),
                              "--mem-queue-size", str(args.mem_queue_size), "--log-level", "warn",
                              *(["--data-path", args.data_path] if args.data_path else []))
        tcp_address = broker.tcp_address
    topic = f"bench{os.getpid()}"
    if args.loop == "uvloop":
        import uvloop
        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    received = 0
    done = loop.create_future()

    def handler(message: nsq.Message) -> bool:
        nonlocal received
        received += 1
        if received == args.messages and not done.done():
            done.set_result(time.perf_counter())
        return True

    compression = {} if args.compression == "none" else {args.compression: True}
    reader = nsq.Reader(topic=topic, channel="bench", message_handler=handler,
                        nsqd_tcp_addresses=[tcp_address], max_in_flight=args.max_in_flight,
                        **compression)

    async def until_subscribed() -> None:
        while not any(c.rdy for c in reader.conns.values()):
            await asyncio.sleep(0.01)

    loop.run_until_complete(asyncio.wait_for(until_subscribed(), 10))
    publisher = multiprocessing.Process(
        target=_publish,
        args=(tcp_address, topic, args.messages, args.size, args.batch, 4, args.compression))
    start = time.perf_counter()
    cpu = {"reader": time.process_time()}
    if broker is not None:
        cpu["broker"] = _cpu_seconds(broker.proc.pid)
    publisher.start()
    end = loop.run_until_complete(asyncio.wait_for(done, args.timeout))
    publisher.join()
    cpu["reader"] = time.process_time() - cpu["reader"]
    if broker is not None:
        cpu["broker"] = _cpu_seconds(broker.proc.pid) - cpu["broker"]
    reader.close()
    loop.close()
    rate = args.messages / (end - start)
    print(f"messages: {args.messages}  size: {args.size} B  MPUB batch: {args.batch}  "
          f"max_in_flight: {args.max_in_flight}  reader loop: {args.loop}  "
          f"compression: {args.compression}")
    print(f"elapsed: {end - start:.2f} s  throughput: {rate:,.0f} msgs/s end to end")
    print("CPU seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items()))
    if broker is not None:
        rss = _peak_rss_mb(broker.proc.pid)
        if rss is not None:
            print(f"broker peak RSS: {rss:.0f} MiB (--mem-queue-size {args.mem_queue_size})")
        broker.stop()
    return rate


def _default_loop() -> str:
    return "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.broker_bench",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200_000, help="messages to send")
    parser.add_argument("--size", type=int, default=100, help="message body size in bytes")
    parser.add_argument("--batch", type=int, default=100, help="messages per MPUB")
    parser.add_argument("--max-in-flight", type=int, default=2500, help="Reader max_in_flight")
    parser.add_argument("--mem-queue-size", type=int, default=10000,
                        help="broker --mem-queue-size (when the benchmark starts the broker)")
    parser.add_argument("--data-path", default=None, help="broker --data-path (default: none)")
    parser.add_argument("--tcp-address", default=None,
                        help="use a running broker at this TCP address instead of starting one")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default=_default_loop(),
                        help="event loop of the pynsq Reader (default: uvloop if installed)")
    parser.add_argument("--compression", choices=["none", "snappy", "deflate"], default="none",
                        help="negotiated by the publisher and the Reader (default: none)")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up after seconds")
    run(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
