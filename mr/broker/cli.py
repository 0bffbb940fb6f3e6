"""`mr_broker`: run the broker until SIGTERM or SIGINT, then shut down cleanly."""
from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import Protocol

from mr.broker.options import VERSION, Options, parse_args

log = logging.getLogger("mr.broker")

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
           "error": logging.ERROR, "fatal": logging.CRITICAL}


class LogSettings(Protocol):
    """What logging needs of a server's options (mr_broker's and mr_lookupd's have it)."""

    log_prefix: str
    log_level: str


def configure_logging(opts: LogSettings, logger: logging.Logger = log) -> None:
    """Server-style lines on stderr: '[mr_broker] 2025/01/31 12:00:00.000000 INFO: ...'.

    mr_lookupd passes its own options and logger.
    """
    handler = logging.StreamHandler(sys.stderr)
    prefix = opts.log_prefix.replace("%", "%%")
    handler.setFormatter(logging.Formatter(
        f"{prefix}%(asctime)s.%(msecs)03d000 %(levelname)s: %(message)s", "%Y/%m/%d %H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(_LEVELS[opts.log_level])
    logger.propagate = False


def _install_uvloop() -> None:
    """Use uvloop (a dependency on Linux) when it is importable; plain asyncio otherwise."""
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


async def serve_until_signal(server, logger: logging.Logger = log) -> None:
    """start(), run until SIGTERM or SIGINT, stop(): the life of mr_broker and mr_lookupd."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await server.start()
    await stop.wait()
    logger.info("signal received, shutting down")
    await server.stop()


async def serve(opts: Options) -> None:
    from mr.broker.server import Broker

    await serve_until_signal(Broker(opts))


def main(argv: list[str] | None = None) -> int:
    opts, show_version = parse_args(sys.argv[1:] if argv is None else argv)
    if show_version:
        print(f"mr_broker v{VERSION}")
        return 0
    configure_logging(opts)
    _install_uvloop()
    log.info("mr_broker v%s", VERSION)
    try:
        asyncio.run(serve(opts))
    except OSError as err:
        log.critical("failed to start: %s", err)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
