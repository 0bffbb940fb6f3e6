"""Many greenlets of one monkey-patched process publish at once, as on a gevent front-end.

Prints "published N" once every greenlet has published (all of them still alive), then waits
for a line on stdin (the test counts the broker's connections meanwhile) before ending them.
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import sys  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402

from mr.queue.publisher import Publisher  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--http", required=True, help="broker HTTP address, host:port")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--greenlets", type=int, default=200)
    parser.add_argument("--messages", type=int, default=5, help="per greenlet")
    parser.add_argument("--pool-size", type=int, default=4)
    parser.add_argument("--no-tcp", action="store_true", help="publish over HTTP")
    args = parser.parse_args()
    publisher = Publisher([args.http], pool_size=args.pool_size, tcp=not args.no_tcp)
    published = [0]
    settled, release = gevent.event.Event(), gevent.event.Event()

    def publish(index: int) -> None:
        try:
            for n in range(args.messages):
                publisher.publish(args.topic, b"g%d-%d" % (index, n))
        except BaseException:
            settled.set()
            raise
        published[0] += 1
        if published[0] == args.greenlets:
            settled.set()
        release.wait()

    greenlets = [gevent.spawn(publish, i) for i in range(args.greenlets)]
    settled.wait(timeout=120)
    if published[0] != args.greenlets:
        gevent.sleep(0)  # let a failing greenlet finish, to report its exception
        errors = [repr(g.exception) for g in greenlets if g.exception is not None]
        print(f"{published[0]} of {args.greenlets} greenlets published; {errors[:3]}",
              file=sys.stderr)
        return 1
    print(f"published {args.greenlets * args.messages}", flush=True)
    sys.stdin.readline()
    release.set()
    gevent.joinall(greenlets, raise_error=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
