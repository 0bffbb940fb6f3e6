"""Request records are decoded once per revision and handed out as copies."""
from mr.engine.request_cache import RequestCache
from mr.kv.client import Entry
from mr.kv.models import Request, encode


def entry(rid: str, revision: int, value: bytes = b"") -> Entry:
    return Entry(key=f"/mr/w/wf/request/{rid}", value=value, create_revision=1,
                 mod_revision=revision, version=1)


def record(rid: str, **fields) -> bytes:
    return encode(Request(workflow="wf", id=rid, job="j", arguments=[["text", "a b"]], **fields))


def test_a_keys_only_entry_is_fetched_once_per_revision():
    cache, fetched = RequestCache(), []

    def fetch(rid, revision, **fields):
        def read():
            fetched.append(revision)
            return entry(rid, revision, record(rid, **fields))
        return read
    first = cache.get(entry("r1", 5), fetch("r1", 5))
    again = cache.get(entry("r1", 5), fetch("r1", 5))
    assert fetched == [5] and first == again and first is not again
    retried = cache.get(entry("r1", 9), fetch("r1", 9, retries=1))
    assert fetched == [5, 9] and retried.retries == 1


def test_copies_do_not_share_what_the_runner_sets():
    cache = RequestCache()
    mine = cache.get(entry("r1", 5, record("r1")), lambda: None)
    mine.state, mine.result = "done", [["a", 1]]
    theirs = cache.get(entry("r1", 5), lambda: None)
    assert (theirs.state, theirs.result) == ("running", None)


def test_a_record_that_is_gone_is_none():
    assert RequestCache().get(entry("r1", 5), lambda: None) is None


def test_bounded_by_entries_and_bytes():
    cache = RequestCache(max_entries=3, max_bytes=10_000)
    for n in range(5):
        cache.get(entry(f"r{n}", 1, record(f"r{n}")), lambda: None)
    assert len(cache._items) == 3
    big = encode(Request(workflow="wf", id="big", job="j", arguments=[["t", "x" * 3000]]))
    cache.get(entry("big", 1, big), lambda: None)  # over a quarter of the bytes: not kept
    assert "/mr/w/wf/request/big" not in cache._items
