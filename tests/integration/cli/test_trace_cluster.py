"""The tracing tools on requests that really ran: etcd, mr_broker, two mr_worker processes and
gunicorn, with MR_CLEANUP=0 so the invocation records stay."""
from __future__ import annotations

import pytest

from mr import examples
from mr.cli import kv_invocation, kv_request, trace
from mr.cli.kv_handler import read_handler
from mr.kv import entities, keys
from mr.kv.models import Step
from tests.support.cluster import REPO, start_cluster, unique

HERE = REPO / "tests" / "integration" / "cli"


@pytest.fixture(scope="module")
def engine(etcd, tmp_path_factory):
    ok_wf, fail_wf = unique("trok"), unique("trfail")
    engine = start_cluster(tmp_path_factory.mktemp("trace"), etcd.address, [ok_wf, fail_wf],
                           extra_env={"MR_CLEANUP": "0"})
    kv = engine.kv
    for wf in (ok_wf, fail_wf):
        examples.define(kv, REPO / "handlers", workflow=wf)
    entities.save(kv, read_handler(fail_wf, HERE / "handlers" / "square_or_fail.py"))
    square = entities.get(kv, Step, fail_wf, "square")
    square.mapper = "square_or_fail"
    entities.save(kv, square)
    try:
        engine.start_workers(2)
        engine.start_web()
        done = engine.post(ok_wf, "squares", {"n": 5})
        assert done.status_code == 200, done.text
        failed = engine.post(fail_wf, "squares", {"n": 5})
        assert failed.status_code == 500, failed.text
        engine.ok = (ok_wf, done.json()["request_id"])
        engine.failed = (fail_wf, failed.json()["request_id"])
        yield engine
    finally:
        engine.stop()


def test_flat_list_of_a_finished_request(cli, engine):
    ran = cli(trace.flat_list, *engine.ok)
    assert ran.code == 0, ran.err
    lines = ran.out.splitlines()
    assert [line.split()[:5] for line in lines] == [
        ["0", "M", "squares", "numbers_fan_out", "done"],
        *[[f"0.{i}", "M", "square", "numbers_square", "done"] for i in range(5)],
        ["0.r", "R", "squares", "numbers_total", "done"]]
    assert all(line.startswith("  ") for line in lines[1:])
    assert "FAILED" not in ran.out


def test_graph_shows_timings_attempts_and_workers(cli, engine):
    ran = cli(trace.graph, *engine.ok)
    assert ran.code == 0, ran.err
    assert "job:" in ran.out and "squares" in ran.out and "7 invocation(s)" in ran.out
    for iid in ("0", "0.0", "0.4", "0.r"):
        assert f"{iid} [" in ran.out
    assert ran.out.count("attempts=1 worker=") == 7
    assert "worker=-" not in ran.out and "started=+" in ran.out and "ran=" in ran.out
    tree = cli(trace.graph, *engine.ok, "--json").json()["tree"]
    assert tree["invocations"] == 7 and tree["failed"] == []
    root = tree["root"]
    assert root["handler"] == "numbers_fan_out" and root["children"][-1]["id"] == "0.r"
    assert all(c["worker"] and c["started"] <= c["finished"] for c in root["children"])


def test_failed_request_marks_the_failed_invocation(cli, engine):
    flat = cli(trace.flat_list, *engine.failed)
    assert flat.code == 0, flat.err
    failed_lines = [line for line in flat.out.splitlines() if "FAILED" in line]
    assert len(failed_lines) == 1
    assert failed_lines[0].startswith("  0.3 M square square_or_fail failed")
    assert failed_lines[0].endswith("<-- FAILED: ArithmeticError: three is not allowed (got 3)")
    graph = cli(trace.graph, *engine.failed)
    assert "failed at: invocation 0.3 (handler)" in graph.out
    assert "0.3 [map] step=square handler=square_or_fail@" in graph.out
    assert "*** FAILED ***" in graph.out
    assert 'square_or_fail.py", line 17, in handle' in graph.out
    assert "ArithmeticError: three is not allowed (got 3)" in graph.out
    assert cli(trace.graph, *engine.failed, "--json").json()["tree"]["failed"] == ["0.3"]
    invocation = cli(kv_invocation.get, *engine.failed, "0.3", "--json").json()
    assert invocation["state"] == "failed" and "Traceback" in invocation["error"]
    listed = cli(kv_invocation.list_, *engine.failed, "--state", "failed", "--json").json()
    assert [i["id"] for i in listed] == ["0.3"]
    request = cli(kv_request.get, *engine.failed).out
    assert "state:" in request and "failed" in request and "invocation:" in request


def test_draw_dot_and_png(cli, engine, tmp_path):
    source = cli(trace.draw, *engine.failed)
    assert source.code == 0 and source.out.startswith("digraph request {")
    assert '"I0" -> "I0.3" [label="mapped to"]' in source.out
    dot_file, png_file = tmp_path / "req.dot", tmp_path / "req.png"
    ran = cli(trace.draw, *engine.ok, "-o", str(dot_file), "--png", str(png_file))
    assert ran.code == 0, ran.err
    assert ran.out.splitlines() == [f"wrote {dot_file}", f"wrote {png_file}"]
    assert '"I0" -> "I0.r" [label="reduced by"]' in dot_file.read_text()
    assert png_file.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_draw_png_without_graphviz(cli, engine, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    ran = cli(trace.draw, *engine.ok, "--png", str(tmp_path / "x.png"))
    assert ran.code == 2
    assert "graphviz's 'dot' program is not installed" in ran.err
    assert not (tmp_path / "x.png").exists()


def test_sessions(cli, engine):
    ran = cli(trace.sessions, *engine.failed, "--json")
    assert ran.code == 0, ran.err
    assert ran.json()["0.3"] == {"seen": 3}
    human = cli(trace.sessions, *engine.failed).out
    assert "Invocation: 0.3\n  [seen]: 3" in human
    none = cli(trace.sessions, *engine.ok)
    assert none.code == 0 and none.out.startswith("(no session keys")


def test_unknown_request_and_workflow(cli, engine):
    wf, _ = engine.ok
    assert cli(trace.graph, wf, "nope").err.strip() == \
        f"error: request 'nope' does not exist in workflow '{wf}'"
    assert cli(trace.flat_list, "no_such_wf", "x").err.strip() == \
        "error: workflow 'no_such_wf' does not exist"


def test_tracing_entry_points_as_processes(run_script, engine):
    ran = run_script("mr_get_invocation_flat_list", *engine.failed)
    assert ran.code == 0, ran.err
    assert "<-- FAILED: ArithmeticError" in ran.out
    missing = run_script("mr_get_invocation_graph", engine.failed[0], "nope")
    assert missing.code == 2 and "Traceback" not in missing.err


def test_cleanup_after_tracing(cli, kv, engine):
    wf, rid = engine.ok
    sim = cli(kv_request.cleanup, wf, rid, "--simulate-only", "--json").json()
    assert sim["counts"]["inv"] == 7 and sim["counts"]["request"] == 1
    assert cli(kv_request.cleanup, wf, rid).code == 0
    assert kv.count(keys.request_data(wf, rid)) == 0 and kv.get(keys.request(wf, rid)) is None
