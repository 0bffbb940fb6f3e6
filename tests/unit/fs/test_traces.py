"""The trace document: written from etcd's raw records, read back line by line, found by
request id, and expired a dated bucket at a time."""
from __future__ import annotations

from mr.fs import LocalFS, traces
from mr.kv.client import Entry
from mr.kv.models import DONE, FAILED, RUNNING, Invocation, Request, encode
from mr.trace.tree import build

LOG_PREFIX = "/mr/w/wf/r/rid/log/"


def _request(state=DONE, finished=1_000_000.5, name=None) -> Request:
    return Request("wf", "a" * 32, "squares", [], state=state, created=finished - 2,
                   finished=finished, name=name, failure={"invocation": "0.1"})


def _records(state_of_child=DONE) -> list[bytes]:
    return [encode(Invocation("0", "squares", state=DONE, attempts=1, worker="w1",
                              handler="fan", version="v1", children=2, log="root\n")),
            encode(Invocation("0.0", "square", state=state_of_child, arguments=[b"raw", 3])),
            encode(Invocation("0.1", "square", state=RUNNING, attempts=2)),
            encode(Invocation("0.r", "squares", kind="reduce", state=DONE))]


def test_written_document_reads_back_as_shown(tmp_path):
    wfs, request = LocalFS(tmp_path), _request(state=FAILED)
    logs = traces.logs_by_invocation(
        [Entry(LOG_PREFIX + "0.1/0001", b"first try\n", 1, 1, 1)], LOG_PREFIX)
    path = traces.write(wfs, request, _records(), logs, retention_s=7 * 86400)
    assert path == f"traces/000000997200+3600/{request.id}.jsonl.gz"
    kept = traces.open_document(wfs, request.id, request.finished)
    assert kept.request.id == request.id and kept.request.failure == {"invocation": "0.1"}
    invs = list(kept.invocations())
    assert [i.id for i in invs] == ["0", "0.0", "0.1", "0.r"]
    assert invs[0].worker == "w1" and invs[0].log == "root\n" and invs[0].children == 2
    assert invs[1].arguments == ["raw", 3]           # bytes become text in JSON
    assert invs[2].state == "stopped"                # as shown: its request failed
    assert kept.record("0.1")["attempt_logs"] == [{"attempt": 1, "log": "first try\n"}]
    assert kept.record("0.0")["attempt_logs"] == [] and kept.record("9") is None
    assert [i.id for i in kept.invocations(["0.r", "0"])] == ["0", "0.r"]
    assert build(kept.invocations()).root.children[-1].id == "0.r"


def test_found_without_the_request_record_and_named_ones_apart(tmp_path):
    wfs = LocalFS(tmp_path)
    plain, named = _request(), _request(name="kept")
    named.id = "b" * 32
    traces.write(wfs, plain, _records(), {}, retention_s=50)
    named_path = traces.write(wfs, named, _records(), {}, retention_s=50)
    assert named_path == f"traces/named/{named.id}.jsonl.gz"
    assert traces.find(wfs, plain.id) == f"traces/000001000000+1/{plain.id}.jsonl.gz"
    assert traces.find(wfs, plain.id, finished=plain.finished - 5) is None  # other bucket
    assert traces.find(wfs, "c" * 32) is None
    assert traces.open_document(LocalFS(tmp_path / "empty"), plain.id) is None


def test_expire_removes_whole_buckets_past_retention_never_named_ones(tmp_path):
    wfs = LocalFS(tmp_path)
    old, new, named = _request(finished=1000.2), _request(finished=1003.7), _request(name="n")
    new.id, named.id = "b" * 32, "c" * 32
    for request in (old, new, named):
        traces.write(wfs, request, _records(), {}, retention_s=2)
    assert traces.expire(wfs, now=1002.9, retention_s=2) == 0   # old's bucket ends at 1001
    assert traces.expire(wfs, now=1003.0, retention_s=2) == 1
    assert traces.find(wfs, old.id) is None and traces.find(wfs, new.id)
    assert traces.expire(wfs, now=10**9, retention_s=2) == 1
    assert traces.find(wfs, new.id) is None and traces.find(wfs, named.id)
    assert traces.expire(LocalFS(tmp_path / "none"), now=10**9, retention_s=2) == 0


def test_bucket_span_is_a_hundredth_of_the_retention_within_bounds():
    assert traces.bucket_span(0) == 1 and traces.bucket_span(250) == 2
    assert traces.bucket_span(7 * 86400) == 3600
