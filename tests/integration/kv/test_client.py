"""The etcd facade against a real etcd."""
import threading
import uuid

import pytest

from mr.kv.client import KV, EtcdUnavailable, cmp_absent, cmp_present, op_delete, op_get, op_put


@pytest.fixture
def prefix():
    return f"/test/{uuid.uuid4().hex}/"


def test_put_get_range_count(kv, prefix):
    for i in range(7):
        kv.put(f"{prefix}k{i}", str(i).encode())
    assert kv.get(prefix + "k3").value == b"3"
    assert kv.get(prefix + "missing") is None
    entries, more, _ = kv.range(prefix, limit=5)
    assert [e.key for e in entries] == [f"{prefix}k{i}" for i in range(5)] and more
    assert [e.value for e in kv.scan(prefix, page=2)] == [str(i).encode() for i in range(7)]
    assert kv.count(prefix) == 7
    assert kv.delete(prefix, prefix=True) == 7
    assert kv.count(prefix) == 0


def test_txn_create_if_absent_only_once(kv, prefix):
    key = prefix + "claim"
    first = kv.txn([cmp_absent(key)], [op_put(key, b"a")], [op_get(key)])
    second = kv.txn([cmp_absent(key)], [op_put(key, b"b")], [op_get(key)])
    assert first.succeeded and not second.succeeded
    assert second.entry(0).value == b"a"
    kv.put(prefix + "other", b"o")
    counted = kv.txn([cmp_present(key)], [op_get(prefix, prefix=True, count_only=True),
                                          op_put(key, b"c", prev_kv=True),
                                          op_delete(prefix + "other")])
    assert counted.count(0) == 2 and counted.prev(1).value == b"a"
    assert kv.get(prefix + "other") is None and kv.get(key).value == b"c"


def test_concurrent_claims_have_one_winner(kv, prefix):
    key = prefix + "race"
    wins = []

    def claim(n):
        if kv.txn([cmp_absent(key)], [op_put(key, str(n).encode())]).succeeded:
            wins.append(n)
    threads = [threading.Thread(target=claim, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1 and kv.get(key).value == str(wins[0]).encode()


def test_watch_from_revision_sees_earlier_writes(kv, prefix):
    start = kv.revision() + 1
    kv.put(prefix + "a", b"1")
    watch = kv.watch_prefix(prefix, start)
    kv.delete(prefix + "a")
    seen = []
    for _revision, events in watch:
        seen.extend((e.kind, e.entry.key) for e in events)
        if len(seen) >= 2:
            break
    watch.cancel()
    assert seen == [("put", prefix + "a"), ("delete", prefix + "a")]


def test_lease_expiry_and_keepalive(kv, prefix):
    lease = kv.lease_grant(5)
    kv.put(prefix + "leased", b"x", lease=lease)
    assert kv.lease_keepalive(lease) > 0
    kv.lease_revoke(lease)
    assert kv.get(prefix + "leased") is None


def test_unreachable_etcd_is_a_clear_error():
    from mr.cluster import free_port
    client = KV([f"127.0.0.1:{free_port()}"], timeout=0.5)
    with pytest.raises(EtcdUnavailable, match="did not answer"):
        client.get("/x")
