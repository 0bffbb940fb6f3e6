"""Count the words of one split, one pair per word (the per-pair path).

**
handler_type: mapper
required_capability: general
input: text
"""


def handle(ctx, records):
    for line in records:
        for word in line.split():
            yield word, 1
