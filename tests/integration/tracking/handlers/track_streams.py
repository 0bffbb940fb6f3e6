"""Print, log, and write to sys.stderr: the first two are the invocation's log, the last its
stderr, kept apart.

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: list}
"""
import sys

from mr.handlers.api import Return


def handle(ctx, arguments):
    print("printed by the handler")
    ctx.log.info("logged by the handler")
    print("written to stderr by the handler", file=sys.stderr)
    yield Return()
    yield "total", 1
