"""Count the words of one split, handing the engine a mapping (the bulk path).

**
handler_type: mapper
required_capability: general
input: raw
"""
from collections import Counter


def handle(ctx, records):
    counts = Counter()
    for block in records:
        counts.update(block.decode().split())
    return counts
