"""Traces that outlive their request: real workers clean a done request's records out of etcd
when it ends (MR_CLEANUP on), and its tree, logs and graph are read from the trace document
the ending worker wrote, until MR_TRACE_RETENTION_S passes or the request is removed."""
from __future__ import annotations

import shutil

import pytest
import requests

from mr import examples
from mr.cli import kv_invocation, kv_request, trace
from mr.cluster import wait_for
from mr.fs import LocalFS, traces
from mr.kv import entities, keys
from tests.support.cluster import REPO, start_cluster, unique

RETENTION_S = 12


@pytest.fixture(scope="module")
def engine(etcd, tmp_path_factory):
    """Workers of `wf` keep traces RETENTION_S; the worker of `wf_none` keeps none."""
    wf, wf_none = unique("trdoc"), unique("trnone")
    engine = start_cluster(tmp_path_factory.mktemp("tracedoc"), etcd.address, [wf, wf_none],
                           extra_env={"MR_SWEEP_INTERVAL_S": "0.3",
                                      "MR_NOTIFY_EVENTS": "request_done"})
    for name in (wf, wf_none):
        examples.define(engine.kv, REPO / "handlers", workflow=name)
    try:
        engine.start_web()
        engine.extra_env.update({"MR_WORKFLOW_NAMES": wf,
                                 "MR_TRACE_RETENTION_S": str(RETENTION_S)})
        engine.start_workers(2)
        engine.extra_env.update({"MR_WORKFLOW_NAMES": wf_none, "MR_TRACE_RETENTION_S": "0"})
        engine.start_workers(1)
        engine.wf, engine.wf_none = wf, wf_none
        yield engine
    finally:
        engine.stop()


def _fs(engine, wf: str) -> LocalFS:
    return LocalFS(engine.tmp / "data" / "shared" / wf)


def _done(engine, wf: str, n: int = 5) -> str:
    posted = engine.post(wf, "squares", {"n": n})
    assert posted.status_code == 200, posted.text
    rid = posted.json()["request_id"]
    # The client is told by etcd, before the worker writes the document: the worker's
    # request_done notification (logged, as no channel is configured) comes after.
    wait_for(lambda: any(rid in log.read_text() for log in engine.tmp.glob("worker*.log")),
             timeout=30, message="the worker that ended the request notified request_done")
    wait_for(lambda: engine.kv.count(keys.invocations(wf, rid)) == 0, timeout=30,
             message="the request's records cleaned up (a big one's a page at a time)")
    return rid


def test_tree_logs_and_graph_of_a_cleaned_up_request(cli, engine, monkeypatch, tmp_path):
    monkeypatch.setenv("MR_DATA_DIR", str(engine.tmp / "data"))
    wf = engine.wf
    rid = _done(engine, wf)
    flat = cli(trace.flat_list, wf, rid)
    assert flat.code == 0, flat.err
    assert [line.split()[:5] for line in flat.out.splitlines()] == [
        ["0", "M", "squares", "numbers_fan_out", "done"],
        *[[f"0.{i}", "M", "square", "numbers_square", "done"] for i in range(5)],
        ["0.r", "R", "squares", "numbers_total", "done"]]
    graph = cli(trace.graph, wf, rid, "--json").json()
    assert graph["tree"]["invocations"] == 7 and graph["request"]["state"] == "done"
    assert all(c["worker"] for c in graph["tree"]["root"]["children"])
    listed = cli(kv_invocation.list_, wf, rid, "--json").json()
    assert len(listed) == 7 and {row["state"] for row in listed} == {"done"}
    one = cli(kv_invocation.get, wf, rid, "0.3", "--json").json()
    assert one["handler"] == "numbers_square" and one["attempts"] == 1
    assert "attempt_logs" in one
    dot = cli(trace.draw, wf, rid, "-o", str(tmp_path / "g.dot"))
    assert dot.code == 0, dot.err
    assert "0.r" in (tmp_path / "g.dot").read_text()
    web = engine.web.url
    record = requests.get(f"{web}/request/{wf}/{rid}/invocation/0.2", timeout=30)
    assert record.status_code == 200, record.text
    assert record.json()["handler"] == "numbers_square" and record.json()["state"] == "done"
    page = requests.get(f"{web}/ui/{wf}/request/{rid}", timeout=30)
    assert page.status_code == 200 and "trace document" in page.text
    assert "No graph" not in page.text and "graph.svg" in page.text
    if shutil.which("dot"):
        drawn = requests.get(f"{web}/ui/{wf}/request/{rid}/graph.svg", timeout=30)
        assert drawn.status_code == 200 and b"<svg" in drawn.content


def test_big_request_is_kept_whole(engine):
    """Over ATOMIC_CLEANUP_INVOCATIONS its keys go a page at a time: read before they do."""
    wf = engine.wf
    rid = _done(engine, wf, n=150)
    kept = traces.open_document(_fs(engine, wf), rid)
    assert kept is not None and kept.request.state == "done"
    assert sum(1 for _ in kept.invocations()) == 152


def test_document_expires_after_the_trace_retention(cli, engine, monkeypatch):
    monkeypatch.setenv("MR_DATA_DIR", str(engine.tmp / "data"))
    wf = engine.wf
    rid = _done(engine, wf)
    assert traces.find(_fs(engine, wf), rid) is not None
    wait_for(lambda: traces.find(_fs(engine, wf), rid) is None, timeout=RETENTION_S + 30,
             message="the trace document expired")
    gone = cli(trace.flat_list, wf, rid)
    assert gone.code != 0 and "no trace document" in gone.err
    page = requests.get(f"{engine.web.url}/ui/{wf}/request/{rid}", timeout=30)
    assert page.status_code == 200 and "No graph" in page.text and 'id="graph"' not in page.text


def test_no_document_with_retention_zero(cli, engine, monkeypatch):
    monkeypatch.setenv("MR_DATA_DIR", str(engine.tmp / "data"))
    rid = _done(engine, engine.wf_none)
    assert traces.find(_fs(engine, engine.wf_none), rid) is None
    gone = cli(trace.flat_list, engine.wf_none, rid)
    assert gone.code != 0 and "no trace document" in gone.err


def test_trace_outlives_the_request_record(cli, engine, monkeypatch):
    monkeypatch.setenv("MR_DATA_DIR", str(engine.tmp / "data"))
    wf = engine.wf
    rid = _done(engine, wf)
    removed, _ = entities.cleanup_requests(engine.kv, wf, [rid])   # as retention does
    assert removed == [rid] and engine.get_request(wf, rid).status_code == 404
    flat = cli(trace.flat_list, wf, rid)
    assert flat.code == 0, flat.err
    assert len(flat.out.splitlines()) == 7
    record = requests.get(f"{engine.web.url}/request/{wf}/{rid}/invocation/0", timeout=30)
    assert record.status_code == 200 and record.json()["children"] == 5
    page = requests.get(f"{engine.web.url}/ui/{wf}/request/{rid}", timeout=30)
    assert page.status_code == 200 and "trace document" in page.text
    removed = cli(kv_request.cleanup, wf, rid)
    assert removed.code == 0, removed.err
    assert "trace document" in removed.out
    assert traces.find(_fs(engine, wf), rid) is None


def test_document_removed_with_its_request(cli, engine, monkeypatch):
    monkeypatch.setenv("MR_DATA_DIR", str(engine.tmp / "data"))
    monkeypatch.setenv("MR_RESULT_DIR", str(engine.tmp / "results"))
    wf = engine.wf
    rid = _done(engine, wf)
    assert traces.find(_fs(engine, wf), rid) is not None
    removed = cli(kv_request.cleanup, wf, rid)
    assert removed.code == 0, removed.err
    assert traces.find(_fs(engine, wf), rid) is None
