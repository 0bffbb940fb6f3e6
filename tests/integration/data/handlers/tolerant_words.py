"""Count the words of JSON-lines records' "text", skipping the lines that are not JSON (or
not UTF-8): dirty data.

**
handler_type: mapper
required_capability: general
input: jsonl
malformed: skip
"""
from collections import Counter


def handle(ctx, records):
    return Counter(word for record in records for word in record["text"].split())
