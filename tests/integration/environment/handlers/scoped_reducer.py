"""Pass the mapper's pairs on and report this handler's own SECRET (it should have none).

**
handler_type: reducer
required_capability: general
argument_spec:
  - {name: results, type: list}
"""


def handle(ctx, results):
    for key, values in results:
        yield key, values[0]
    yield "reducer_secret", globals().get("SECRET")
