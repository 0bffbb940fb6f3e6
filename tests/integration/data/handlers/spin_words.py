"""A mapper stuck in its own loop (it never yields): announces itself with its process's pid,
then spins until its one-second time limit ends it.

**
handler_type: mapper
required_capability: general
input: text
time_limit_s: 1
"""
import os


def handle(ctx, records):
    with ctx.fs.open(f"held/spin-{ctx.invocation_id}.{os.getpid()}", "w") as mark:
        mark.write(str(os.getpid()))
    while True:
        pass
