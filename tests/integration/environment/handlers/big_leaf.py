"""Return its large argument doubled: an output over the blob threshold.

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: list}
"""
from mr.handlers.api import Return


def handle(ctx, arguments):
    (index, text), = arguments
    yield Return()
    yield index, text * 2
