"""Write its argument to a file of the workflow's shared filesystem; output the file's name.

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: list}
"""
from mr.handlers.api import Return


def handle(ctx, arguments):
    (index, text), = arguments
    path = f"scratch/{ctx.request_id}/{index}.txt"
    ctx.fs.write_bytes(path, text.encode())
    yield Return()
    yield "files", path
