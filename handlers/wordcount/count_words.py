"""Count the words of one chunk: yields (word, 1) per word, lower-cased, letters only.

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: list}
"""
import re

from mr.handlers.api import Return

WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def handle(ctx, arguments):
    yield Return()
    for _index, text in arguments:
        for word in WORD.findall(text.lower()):
            yield word, 1
