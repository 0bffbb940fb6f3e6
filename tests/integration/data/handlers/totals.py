"""Sum a word count's result, a job over another job's output: its words and its distinct
words.

**
handler_type: mapper
required_capability: general
input: jsonl
"""


def handle(ctx, records):
    for _word, count in records:
        yield "words", count
        yield "distinct", 1
