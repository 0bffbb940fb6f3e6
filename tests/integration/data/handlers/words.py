"""Count the words of one split, one pair per word (the per-pair path), tallying them.

**
handler_type: mapper
required_capability: general
input: text
"""


def handle(ctx, records):
    for line in records:
        words = line.split()
        ctx.tally("words", len(words))
        for word in words:
            yield word, 1
