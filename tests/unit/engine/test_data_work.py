"""A reducer's iterator values on their way to a part file (mr.engine.data_work)."""
from __future__ import annotations

from itertools import count, islice

import pytest

from mr.data import parts
from mr.engine import data_work
from mr.engine.calls import HandlerFailure
from mr.handlers import processors
from mr.kv.models import Handler

SOURCE = '''"""A reducer.

**
handler_type: reducer
required_capability: general
argument_spec:
  - {name: results, type: list}
"""


def handle(ctx, results):
    return results
'''


@pytest.fixture
def reducer():
    return processors.load(Handler("wf", "r", "reducer", SOURCE, "1", "r.py"))


def chunks(produced, reducer):
    return list(data_work._chunks(produced, reducer, None, streams=True))


def test_a_short_iterator_value_becomes_a_list(reducer):
    [[pair]] = chunks([("k", iter([1, 2, 3]))], reducer)
    assert pair == ["k", [1, 2, 3]]


def test_a_long_iterator_value_is_streamed_and_written_at_once(reducer):
    produced = [("a", 1), ("long", islice(count(), 2 * parts.LONG_LIST + 1)), ("b", 2)]
    found = chunks(produced, reducer)
    assert [[key for key, _ in chunk] for chunk in found] == [["a", "long"], ["b"]]
    streamed = found[0][1][1]
    assert type(streamed) is parts.Streamed and streamed.first == list(range(parts.LONG_LIST))
    assert [len(piece) for piece in streamed.rest] == [parts.LONG_LIST, 1]


def test_a_failing_iterator_value_fails_as_the_handler(reducer):
    def ids():
        yield from range(parts.LONG_LIST)
        raise KeyError("lost")

    [[[key, streamed]]] = chunks([("k", ids())], reducer)
    with pytest.raises(HandlerFailure, match="handler r raised KeyError"):
        list(streamed.rest)


def test_map_output_is_never_streamed(reducer):
    values = iter([1])
    [[pair]] = list(data_work._chunks([("k", values)], reducer, None))
    assert pair[1] is values
