"""Inverted index of one split, handed back whole: word -> ids of its documents, in file order.

**
handler_type: mapper
required_capability: general
input: jsonl
"""


def handle(ctx, records):
    index = {}
    for doc in records:
        for word in set(doc["text"].split()):
            index.setdefault(word, []).append(doc["id"])
    return index
