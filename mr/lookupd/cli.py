"""`mr_lookupd`: run the lookup service until SIGTERM or SIGINT, then stop cleanly."""
from __future__ import annotations

import asyncio
import logging
import sys

from mr.broker.cli import configure_logging, serve_until_signal
from mr.broker.options import VERSION
from mr.lookupd.options import Options, parse_args

log = logging.getLogger("mr.lookupd")


async def serve(opts: Options) -> None:
    from mr.lookupd.server import Lookupd

    await serve_until_signal(Lookupd(opts), log)


def main(argv: list[str] | None = None) -> int:
    opts, show_version = parse_args(sys.argv[1:] if argv is None else argv)
    if show_version:
        print(f"mr_lookupd v{VERSION}")
        return 0
    configure_logging(opts, log)
    log.info("mr_lookupd v%s", VERSION)
    try:
        asyncio.run(serve(opts))
    except OSError as err:
        log.critical("failed to start: %s (is another lookupd on that address? "
                     "choose another with --tcp-address/--http-address)", err)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
