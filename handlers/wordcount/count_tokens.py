"""Count the words of a tokenized result (wordcount_tokenize_lines'), a job over another
job's output: each record is one line's [path, words].

**
handler_type: mapper
required_capability: general
input: jsonl
"""
from collections import Counter


def handle(ctx, records):
    return Counter(word for _path, words in records for word in words)
