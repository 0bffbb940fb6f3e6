"""Needs a capability no worker offers.

**
handler_type: mapper
required_capability: quantum
argument_spec:
  - {name: arguments, type: list}
"""
from mr.handlers.api import Return


def handle(ctx, arguments):
    yield Return()
