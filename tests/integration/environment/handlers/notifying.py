"""Send a custom notification from handler code.

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: dict}
"""
from mr.handlers.api import Return


def handle(ctx, arguments):
    ctx.notify(f"custom note {arguments['tag']}", tag=arguments["tag"], rows=3)
    ctx.logger.info("notified %s", arguments["tag"])
    yield Return()
    yield "sent", 1
