"""A leaf of the nested trace request: returns its value, but refuses 11 (middle 1, leaf 1), so
one invocation two levels down fails.

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: list}
"""
from mr.handlers.api import Return


def handle(ctx, arguments):
    yield Return()
    for _key, value in arguments:
        if value == 11:
            raise LookupError(f"leaf {value} is not allowed")
        yield "total", value
