"""Count words like `words`, on the workers that offer capability "in_thread" (a worker that
runs data handlers in its own threads: MR_DATA_ISOLATION=thread), leaving the pid of the
process that ran it in the shared filesystem.

**
handler_type: mapper
required_capability: in_thread
input: text
"""
import os


def handle(ctx, records):
    ctx.fs.write_text(f"here/ran-in.{os.getpid()}", "")
    for line in records:
        for word in line.split():
            yield word, 1
