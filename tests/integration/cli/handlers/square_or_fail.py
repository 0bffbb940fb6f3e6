"""Square one number, but refuse 3 (a test of tracing a failed request).

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
        ctx.session.set("seen", value)
        if value == 3:
            raise ArithmeticError(f"three is not allowed (got {value})")
        yield "sum", value * value
