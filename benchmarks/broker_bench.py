"""End-to-end throughput of mr_broker: MPUB in, one pynsq Reader out (FIN per message).

    python -m benchmarks.broker_bench --messages 200000 --size 100

Starts a broker on free loopback ports (or uses --tcp-address/--http-address of a
running one), a publisher process that sends MPUB batches over a raw socket, and one
pynsq Reader in this process. Reports messages/s from the first publish to the last
message received, and the broker's peak resident memory.
"""
from __future__ import annotations

import argparse
import asyncio
import importlib.util
import multiprocessing
import os
import socket
import sys
import tempfile
import time

import nsq

from mr.broker.protocol import MAGIC_V2, encode_mpub, pack_length


def _publish(address: str, topic: str, count: int, size: int, batch: int, window: int) -> None:
    """Send `count` messages in MPUB batches, at most `window` batches unanswered."""
    host, port = address.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)))
    sock.sendall(MAGIC_V2)
    body = b"x" * size
    reader = sock.makefile("rb")
    sent = answered = 0
    batches = (count + batch - 1) // batch
    while answered < batches:
        while sent < batches and sent - answered < window:
            n = min(batch, count - sent * batch)
            payload = encode_mpub([body] * n)
            sock.sendall(b"MPUB " + topic.encode() + b"\n" + pack_length(len(payload)) + payload)
            sent += 1
        header = reader.read(8)
        frame_size = int.from_bytes(header[:4], "big")
        data = reader.read(frame_size - 4)
        if data == b"_heartbeat_":
            sock.sendall(b"NOP\n")
            continue
        if data != b"OK":
            raise SystemExit(f"publish failed: {data!r}")
        answered += 1
    sock.close()


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

    reader = nsq.Reader(topic=topic, channel="bench", message_handler=handler,
                        nsqd_tcp_addresses=[tcp_address], max_in_flight=args.max_in_flight)

    async def until_subscribed() -> None:
        while not any(c.rdy for c in reader.conns.values()):
            await asyncio.sleep(0.01)

    loop.run_until_complete(asyncio.wait_for(until_subscribed(), 10))
    publisher = multiprocessing.Process(
        target=_publish, args=(tcp_address, topic, args.messages, args.size, args.batch, 4))
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
          f"max_in_flight: {args.max_in_flight}  reader loop: {args.loop}")
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
    parser.add_argument("--timeout", type=float, default=300.0, help="give up after seconds")
    run(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
