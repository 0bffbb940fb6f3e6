"""Check the large values that came back, and count the blobs the request holds now.

**
handler_type: reducer
required_capability: general
argument_spec:
  - {name: results, type: list}
"""


def handle(ctx, results):
    for key, values in results:
        yield key, [len(values[0]), values[0][:3]]
    yield "blobs", len(ctx.fs.listdir(f".mr/blobs/{ctx.request_id}"))
