"""Split a text into chunks of lines; each chunk becomes one counting mapper.

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: dict}
request_arguments:
  text: str
  lines_per_chunk: {type: int, required: false}
"""
from mr.handlers.api import MapTo


def handle(ctx, arguments):
    lines = arguments["text"].splitlines()
    size = max(int(arguments.get("lines_per_chunk", 50)), 1)
    ctx.log.info("splitting %d lines into chunks of %d", len(lines), size)
    yield MapTo("count")
    for index, start in enumerate(range(0, len(lines), size)):
        yield index, "\n".join(lines[start:start + size])
