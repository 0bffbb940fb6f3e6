"""Report what the scope factory gave this handler (SECRET), if anything.

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: list}
"""
from mr.handlers.api import Return


def handle(ctx, arguments):
    yield Return()
    yield "mapper_secret", globals().get("SECRET")
