"""Count the words of one input split (the data-scale word count: the engine cuts the files).

**
handler_type: mapper
required_capability: general
input: text
"""
import re
from collections import Counter

WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def handle(ctx, records):
    return Counter(word for line in records for word in WORD.findall(line.lower()))
