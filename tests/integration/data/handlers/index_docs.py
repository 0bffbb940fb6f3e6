"""Inverted index: each word of a JSON-lines document, with the document's id.

**
handler_type: mapper
required_capability: general
input: jsonl
"""
from mr.handlers.api import Batch


def handle(ctx, records):
    for doc in records:
        yield Batch([(word, doc["id"]) for word in set(doc["text"].split())])
