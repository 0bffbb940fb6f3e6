"""Word-count benchmark: one counting mapper per chunk the client sent (the same chunks every
compared system gets, so their results can be checked equal).

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: dict}
request_arguments:
  chunks: list
"""
from mr.handlers.api import MapTo


def handle(ctx, arguments):
    yield MapTo("count")
    yield from enumerate(arguments["chunks"])
