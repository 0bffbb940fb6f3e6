"""Return the value it was given.

**
handler_type: mapper
required_capability: gpu
argument_spec:
  - {name: arguments, type: list}
"""
from mr.handlers.api import Return


def handle(ctx, arguments):
    yield Return()
    yield from arguments
