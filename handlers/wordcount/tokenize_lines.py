"""Tokenize each line of one input split: a map-only step (no reducer), so the result is every
non-blank line's words, in the input's order, ready for the next job.

**
handler_type: mapper
required_capability: general
input: text
"""
import re

WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def handle(ctx, records):
    for line in records:
        words = WORD.findall(line.lower())
        if words:
            yield ctx.split["path"], words
