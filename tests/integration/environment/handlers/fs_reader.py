"""Read back the files the mappers wrote, then remove them.

**
handler_type: reducer
required_capability: general
argument_spec:
  - {name: results, type: list}
"""


def handle(ctx, results):
    for _key, paths in results:
        for path in sorted(paths):
            yield path.rsplit("/", 1)[1], ctx.fs.read_bytes(path).decode()
    yield "listed", ctx.fs.listdir(f"scratch/{ctx.request_id}")
    ctx.fs.delete(f"scratch/{ctx.request_id}")
