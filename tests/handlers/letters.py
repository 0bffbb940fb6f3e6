"""Count the letters of a text.

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: dict}
"""
from mr.handlers.api import Return


def handle(ctx, arguments):
    yield Return()
    for letter in arguments["text"]:
        yield letter, 1
