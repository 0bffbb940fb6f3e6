"""Try to write outside the workflow's file area.

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: dict}
"""
from mr.handlers.api import Return


def handle(ctx, arguments):
    ctx.fs.write_bytes(arguments["path"], b"escaped")
    yield Return()
