"""Keep the arguments in the session, for this invocation's reducer.

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: dict}
"""
from mr.handlers.api import Return


def handle(ctx, arguments):
    ctx.session.set("seen", arguments["word"])
    ctx.session.set("scratch", 1)
    ctx.session.delete("scratch")
    yield Return()
    yield "letters", len(arguments["word"])
