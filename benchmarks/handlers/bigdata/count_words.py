"""Count the words of one split of the big-data benchmark's text: the function every compared
system runs (Counter.update over blocks of whole lines), handed back as one mapping.

**
handler_type: mapper
required_capability: general
input: raw
"""
from benchmarks.bigdata_jobs import count_blocks


def handle(ctx, records):
    return count_blocks(records)
