"""Request tracking over real processes: progress, failure records, logs, retry, cancel,
named requests, retention, metrics, and the sweeper's timeouts and lost messages."""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import requests

from mr.cluster import wait_for
from mr.engine import request_protocol
from mr.kv import keys
from mr.kv.codec import unpack
from mr.kv.models import DONE, Invocation, Request, decode
from mr.queue.topics import topic
from tests.support.cluster import unique

LEAF_RAISE_LINE = 28  # the `raise` in handlers/track_leaf.py


def url(engine, path: str) -> str:
    return f"{engine.web.url}{path}"


def progress(engine, rid: str, invocation: str | None = None) -> requests.Response:
    params = {"invocation": invocation} if invocation else {}
    return requests.get(url(engine, f"/request/{engine.wf}/{rid}/progress"), params=params,
                        timeout=30)


def broker_idle(engine) -> bool:
    """No message of the workflow waits in the broker or is held by a worker."""
    stats = requests.get(f"http://{engine.broker.http_address}/stats",
                         params={"format": "json", "topic": topic(engine.wf, "general")},
                         timeout=10).json()
    channels = [c for t in stats["topics"] for c in t["channels"]]
    return all(c["depth"] == 0 and c["in_flight_count"] == 0 for c in channels)


def slow_fan_under_way(engine) -> str:
    """A request of 40 leaves of 0.3 s, once its first leaf is done."""
    posted = requests.post(url(engine, f"/job/{engine.wf}/fan"), params={"blocking": "false"},
                           json={"arguments": {"n": 40, "sleep": 0.3}}, timeout=30)
    rid = posted.json()["request_id"]
    wait_for(lambda: progress(engine, rid).json()["counts"]["done"] > 0, timeout=60,
             interval=0.02, message="a first leaf done")
    return rid


def leaf_runs(engine, rid: str) -> list[int]:
    log = engine.tmp / "data" / "leaf_runs.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return [int(line.split()[1]) for line in lines if line.split()[0] == rid]


def test_progress_during_and_after_a_nested_request(engine):
    # 3 middle mappers x 8 leaves of 0.3 s on 8 handler slots: about a second of work
    posted = requests.post(url(engine, f"/job/{engine.wf}/fan"), params={
        "blocking": "false", "name": unique("progress")},
        json={"arguments": {"mids": 3, "n": 8, "sleep": 0.3}}, timeout=30)
    assert posted.status_code == 202, posted.text
    rid = posted.json()["request_id"]

    def a_running_leaf():
        records = [decode(Invocation, e.value) for e in engine.kv.scan(keys.invocations(
            engine.wf, rid))]
        return [inv for inv in records if inv.state == "running" and inv.id.count(".") == 2]
    running = wait_for(a_running_leaf, timeout=30, interval=0.02, message="a running leaf")
    assert running[0].handler == "track_leaf" and running[0].version   # shown while it runs

    def midway():
        body = progress(engine, rid).json()
        return body if 0 < body["counts"]["done"] < body["total"] else None
    seen = wait_for(midway, timeout=60, interval=0.02, message="a request part-way done")
    assert seen["state"] == "running"
    assert sum(seen["counts"].values()) == seen["total"]
    assert seen["counts"]["skipped"] == 0 and seen["counts"]["failed"] == 0
    assert seen["eta_s"] is not None and 0 < seen["eta_s"] < 120
    assert 0 < seen["percent"] < 100 and seen["elapsed_s"] > 0
    assert seen["tallies"]["roots"] == 1 and 0 < seen["tallies"]["leaves"] <= 24, seen

    ended = engine.wait_ended(engine.wf, rid)
    assert ended["result"] == [["total", sum((m * 100 + j) ** 2 for m in range(3)
                                             for j in range(8))]]
    final = progress(engine, rid).json()
    # root + 3 middles + 24 leaves + a reduction per fan-out parent (3 middles, the root)
    assert final["total"] == 32 and final["counts"]["done"] == 32
    assert final["percent"] == 100 and final["eta_s"] is None and final["state"] == "done"
    assert final["tallies"] == ended["tallies"] == {"leaves": 24, "mids": 3, "roots": 1}
    grouped = requests.get(url(engine, f"/request/{engine.wf}/{rid}/children"),
                           timeout=30).json()
    assert grouped["children"] == 3 and grouped["buckets"]["done"] == ["0.0", "0.1", "0.2"]
    subtree = progress(engine, rid, "0.1").json()
    assert subtree["total"] == 10 and subtree["counts"]["done"] == 10   # mid, 8 leaves, its .r
    assert subtree["tallies"] == {"leaves": 8, "mids": 1}
    missing = progress(engine, rid, "0.9")
    assert missing.status_code == 404 and "not found" in missing.json()["error"]


def test_failure_record_carries_the_handlers_line_and_logs(engine):
    reply = requests.post(url(engine, f"/job/{engine.wf}/fan"),
                          json={"arguments": {"n": 4, "fail_at": 2}}, timeout=60)
    assert reply.status_code == 500, reply.text
    body = reply.json()
    failure = body["failure"]
    assert failure["invocation"] == "0.2" and failure["handler"] == "track_leaf"
    assert failure["attempt"] == 1 and failure["worker"] and failure["version"]
    assert re.search(rf'track_leaf\.py", line {LEAF_RAISE_LINE}', failure["traceback"])
    assert "RuntimeError: leaf 2 is broken" in failure["traceback"]
    assert "leaf 2 starts" in failure["log"]
    rid = body["request_id"]
    record = requests.get(url(engine, f"/request/{engine.wf}/{rid}/invocation/0.2"),
                          timeout=30).json()
    assert record["state"] == "failed" and "leaf 2 starts" in record["log"]
    shown = subprocess.run(["mr_kv_invocation_get", engine.wf, rid, "0.2", "--log"],
                           env={**os.environ, **engine.env}, capture_output=True, text=True,
                           timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == "leaf 2 starts"
    ended = progress(engine, rid).json()
    assert ended["state"] == "failed" and ended["counts"]["failed"] == 1


def test_retry_reruns_only_what_did_not_finish(engine):
    reply = requests.post(url(engine, f"/job/{engine.wf}/fan"),
                          json={"arguments": {"n": 6, "fail_at": 3, "sleep": 0.05}}, timeout=60)
    assert reply.status_code == 500, reply.text
    rid = reply.json()["request_id"]
    kv = engine.kv
    done_before = {decode(Invocation, e.value).id for e in kv.scan(keys.invocations(engine.wf,
                                                                                    rid))
                   if decode(Invocation, e.value).state == DONE}
    # only the runs that committed count: not the failed leaf's, which tallied too
    assert reply.json()["tallies"] == {"leaves": len(done_before), "roots": 1}
    # The root's record stays waiting (the retry goes on from it), but it is shown as stopped.
    root = requests.get(url(engine, f"/request/{engine.wf}/{rid}/invocation/0"), timeout=30)
    assert root.json()["state"] == "stopped"
    listed = subprocess.run(["mr_kv_invocation_list", engine.wf, rid, "--state", "stopped"],
                            env={**os.environ, **engine.env}, capture_output=True, text=True,
                            timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert "0" in [line.split()[0] for line in listed.stdout.splitlines()[1:]], listed.stdout
    for leaf in done_before:
        assert progress(engine, rid, leaf).json()["state"] == "done"
    shown = subprocess.run(["mr_request_status", engine.wf, rid, "--children", "--json"],
                           env={**os.environ, **engine.env}, capture_output=True, text=True,
                           timeout=60)
    grouped = json.loads(shown.stdout)["buckets"]
    assert grouped["failed"] == ["0.3"] and sum(map(len, grouped.values())) == 6
    assert set(grouped["done"]) == {i for i in done_before if i.count(".") == 1
                                    and not i.endswith(".r")}
    assert progress(engine, rid, "0.3").json()["state"] == "failed"
    (engine.tmp / "data" / f"fixed-{rid}").touch()
    retried = requests.post(url(engine, f"/request/{engine.wf}/{rid}/retry"),
                            params={"blocking": "true"}, timeout=60)
    assert retried.status_code == 200, retried.text
    assert retried.json()["result"] == [["total", sum(i * i for i in range(6))]]
    assert retried.json()["retries"] == 1
    assert retried.json()["tallies"] == {"leaves": 6, "roots": 1}
    status = subprocess.run(["mr_request_status", engine.wf, rid], env={**os.environ,
                            **engine.env}, capture_output=True, text=True, timeout=60)
    assert re.search(r"^tally leaves: +6$", status.stdout, re.M), status.stdout
    runs = leaf_runs(engine, rid)
    for iid in done_before:
        if iid.count(".") == 1 and not iid.endswith(".r"):
            assert runs.count(int(iid.split(".")[1])) == 1, (iid, runs)
    assert runs.count(3) == 2
    again = requests.post(url(engine, f"/request/{engine.wf}/{rid}/retry"), timeout=30)
    assert again.status_code == 409 and "only a failed or cancelled" in again.json()["error"]


def test_an_invocations_output_is_readable_a_page_at_a_time(engine):
    reply = requests.post(url(engine, f"/job/{engine.wf}/fan"), json={"arguments": {"n": 4}},
                          timeout=60)
    rid = reply.json()["request_id"]     # done; this cluster keeps records (MR_CLEANUP=0)
    output = requests.get(url(engine, f"/request/{engine.wf}/{rid}/invocation/0.3/output"),
                          params={"limit": 1}, timeout=30).json()
    assert output == {"request_id": rid, "invocation": "0.3", "offset": 0, "total": 1,
                      "pairs": [["total", 9]], "next": None}
    shown = subprocess.run(["mr_kv_invocation_get", engine.wf, rid, "0.3", "--output"],
                           env={**os.environ, **engine.env}, capture_output=True, text=True,
                           timeout=60)
    assert shown.returncode == 0 and shown.stdout.strip() == '["total", 9]'
    none = requests.get(url(engine, f"/request/{engine.wf}/{rid}/invocation/0/output"),
                        timeout=30)
    assert none.status_code == 404 and "the root's output is its request's result" in \
        none.json()["error"]


def test_cancel_drops_queued_work(engine):
    rid = slow_fan_under_way(engine)
    cancelled = requests.delete(url(engine, f"/request/{engine.wf}/{rid}"),
                                params={"reason": "superseded by a newer run"}, timeout=30)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    assert cancelled.json()["failure"]["why"] == "superseded by a newer run"
    again = requests.delete(url(engine, f"/request/{engine.wf}/{rid}"), timeout=30)
    assert again.status_code == 409
    got = engine.get_request(engine.wf, rid).json()
    assert got["state"] == "cancelled" and got["failure"]["reason"] == "cancelled"
    ended = progress(engine, rid).json()
    assert ended["counts"]["running"] == 0 and ended["counts"]["queued"] == 0
    assert ended["counts"]["skipped"] > 0

    wait_for(lambda: broker_idle(engine), timeout=60,
             message="queued messages consumed and dropped")
    assert len(leaf_runs(engine, rid)) < 40


def test_pause_starts_nothing_new_and_resume_finishes_exactly(engine):
    rid = slow_fan_under_way(engine)
    paused = requests.post(url(engine, f"/request/{engine.wf}/{rid}/pause"), timeout=30)
    assert paused.status_code == 200 and paused.json()["state"] == "paused", paused.text
    again = requests.post(url(engine, f"/request/{engine.wf}/{rid}/pause"), timeout=30)
    assert again.status_code == 409 and "already paused" in again.json()["error"]

    def drained_but_not_started():
        body = progress(engine, rid).json()
        return body if (broker_idle(engine) and body["counts"]["running"] == 0
                        and body["counts"]["queued"] > 0) else None
    # every queued message was taken by a worker and dropped, none started
    seen = wait_for(drained_but_not_started, timeout=60, message="the paused request idle")
    assert seen["state"] == "paused" and len(leaf_runs(engine, rid)) < 40

    resumed = requests.post(url(engine, f"/request/{engine.wf}/{rid}/resume"), timeout=30)
    assert resumed.status_code == 200 and resumed.json()["published"] > 0, resumed.text
    ended = engine.wait_ended(engine.wf, rid, timeout=90)
    assert ended["state"] == "done"
    assert ended["result"] == [["total", sum(i * i for i in range(40))]]
    assert sorted(leaf_runs(engine, rid)) == list(range(40))   # each leaf ran once
    late = requests.post(url(engine, f"/request/{engine.wf}/{rid}/resume"), timeout=30)
    assert late.status_code == 409 and "only a paused request" in late.json()["error"]


def test_named_requests_are_cached_recomputed_and_guarded(engine):
    name = unique("named")
    endpoint = url(engine, f"/job/{engine.wf}/fan")
    first = requests.post(endpoint, params={"name": name}, json={"arguments": {"n": 3}},
                          timeout=60)
    assert first.status_code == 200, first.text
    rid = first.json()["request_id"]
    again = requests.post(endpoint, params={"name": name}, json={"arguments": {"n": 3}},
                          timeout=60)
    assert again.status_code == 200 and again.json()["reused"] is True
    assert again.json()["request_id"] == rid and again.json()["result"] == first.json()["result"]
    assert len(leaf_runs(engine, rid)) == 3
    fresh = requests.post(endpoint, params={"name": name, "recompute": "true"},
                          json={"arguments": {"n": 3}}, timeout=60)
    assert fresh.status_code == 200 and fresh.json()["request_id"] != rid
    assert fresh.json()["result"] == first.json()["result"]
    clash = requests.post(endpoint, params={"name": name}, json={"arguments": {"n": 4}},
                          timeout=60)
    assert clash.status_code == 409 and "other arguments" in clash.json()["error"]


def test_a_name_stands_in_for_the_request_id_everywhere(engine):
    name = unique("byname")
    posted = requests.post(url(engine, f"/job/{engine.wf}/fan"), params={"name": name},
                           json={"arguments": {"n": 3}}, timeout=60)
    assert posted.status_code == 200, posted.text
    rid = posted.json()["request_id"]
    by_name = requests.get(url(engine, f"/request/{engine.wf}/{name}"), timeout=30).json()
    assert by_name["request_id"] == rid and by_name["result"] == posted.json()["result"]
    assert progress(engine, name).json()["request_id"] == rid
    listed = requests.get(url(engine, f"/requests/{engine.wf}"), params={"name": name},
                          timeout=30).json()["requests"]
    assert [r["request_id"] for r in listed] == [rid]
    shown = subprocess.run(["mr_kv_request_get", engine.wf, name, "--json"],
                           env={**os.environ, **engine.env}, capture_output=True, text=True,
                           timeout=60)
    assert shown.returncode == 0 and json.loads(shown.stdout)["id"] == rid, shown.stderr

    # Asking about a name nobody holds starts nothing, and says how a request gets one.
    before = engine.kv.count(keys.requests(engine.wf))
    unknown = requests.get(url(engine, f"/request/{engine.wf}/never-{name}"), timeout=30)
    assert unknown.status_code == 404 and "?name=" in unknown.json()["error"]
    assert engine.kv.count(keys.requests(engine.wf)) == before
    assert requests.get(url(engine, f"/requests/{engine.wf}"), params={"name": f"never-{name}"},
                        timeout=30).json()["requests"] == []
    id_like = requests.post(url(engine, f"/job/{engine.wf}/fan"), params={"name": "ab" * 16},
                            json={"arguments": {"n": 1}}, timeout=60)
    assert id_like.status_code == 400 and "looks like a request id" in id_like.json()["error"]


def test_an_expected_duration_gives_an_eta_before_anything_finishes(engine):
    refused = requests.post(url(engine, f"/job/{engine.wf}/chatty"),
                            json={"arguments": {}, "expected_s": "soon"}, timeout=30)
    assert refused.status_code == 400 and "expected_s" in refused.json()["error"]
    posted = requests.post(url(engine, f"/job/{engine.wf}/chatty"), params={"blocking": "false"},
                           json={"arguments": {}, "expected_s": 30}, timeout=30)
    rid = posted.json()["request_id"]
    now = progress(engine, rid).json()
    assert now["counts"]["done"] == 0 and 20 < now["eta_s"] <= 30
    data = Path(engine.env["MR_DATA_DIR"])
    data.mkdir(parents=True, exist_ok=True)
    (data / f"release-{rid}").touch()
    assert engine.wait_ended(engine.wf, rid)["state"] == "done"
    assert progress(engine, rid).json()["eta_s"] is None


def test_a_running_handlers_log_is_readable_and_every_attempt_is_kept(engine):
    posted = requests.post(url(engine, f"/job/{engine.wf}/chatty"), params={"blocking": "false"},
                           json={"arguments": {"fail_attempts": [1, 2]}}, timeout=30)
    rid = posted.json()["request_id"]
    record_url = url(engine, f"/request/{engine.wf}/{rid}/invocation/0")

    def printed_while_running():
        record = requests.get(record_url, timeout=30).json()
        return record if (record["state"] == "running" and record["attempts"] == 3
                          and "attempt 3 starts" in (record["log"] or "")) else None
    record = wait_for(printed_while_running, timeout=60, message="attempt 3's log while it runs")
    status = wait_for(lambda: progress(engine, rid).json()["status"], timeout=30,
                      message="the handler's status message")
    assert status == [{"invocation": "0", "message": "attempt 3: waiting for release"}]
    page = requests.get(url(engine, f"/ui/{engine.wf}/request/{rid}"), timeout=30).text
    assert "attempt 3: waiting for release" in page
    earlier = {a["attempt"]: a["log"] for a in record["attempt_logs"]}
    assert "attempt 1 starts" in earlier[1] and "attempt 1 fails on purpose" in earlier[1]
    assert "attempt 2 fails on purpose" in earlier[2]

    env = {**os.environ, **engine.env}
    follow = subprocess.Popen(["mr_kv_invocation_get", engine.wf, rid, "0", "--follow"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        first = follow.stdout.readline()      # printed before the invocation ends
        assert first == "attempt 3 starts\n", first
        data = Path(engine.env["MR_DATA_DIR"])
        data.mkdir(parents=True, exist_ok=True)
        (data / f"release-{rid}").touch()
        rest, errors = follow.communicate(timeout=60)
    finally:
        follow.kill()
    assert follow.returncode == 0 and rest == "attempt 3 released\n", (rest, errors)
    assert engine.wait_ended(engine.wf, rid)["result"] == [["total", 3]]
    assert progress(engine, rid).json()["status"][0]["message"] == "attempt 3: done"  # kept
    shown = subprocess.run(["mr_kv_invocation_get", engine.wf, rid, "0", "--log"], env=env,
                           capture_output=True, text=True, timeout=60)
    # what the handler counted and timed, on its workers' /metrics
    ports = [unpack(e.value).get("metrics_port") for e in engine.kv.scan(keys.workers())
             if engine.wf in unpack(e.value).get("workflows", [])]
    text = "".join(requests.get(f"http://127.0.0.1:{p}/metrics", timeout=30).text
                   for p in ports)
    started = re.findall(rf'^mr_handler_chatty_attempts_total{{handler="track_chatty",'
                         rf'outcome="started",workflow="{engine.wf}"}} (\S+)$', text, re.M)
    assert sum(map(float, started)) >= 3
    assert "mr_handler_chatty_wait_seconds_count{" in text
    assert shown.stdout.index("--- attempt 1 ---") < shown.stdout.index("--- attempt 2 ---") \
        < shown.stdout.index("--- attempt 3 ---\nattempt 3 starts\nattempt 3 released")


def test_retention_removes_unnamed_requests_and_keeps_named_and_failed(engine):
    endpoint = url(engine, f"/job/{engine.wf}/fan")
    unnamed = requests.post(endpoint, json={"arguments": {"n": 2}}, timeout=60).json()
    named = requests.post(endpoint, params={"name": unique("kept")},
                          json={"arguments": {"n": 2}}, timeout=60).json()
    failed = requests.post(endpoint, json={"arguments": {"n": 2, "fail_at": 1}},
                           timeout=60).json()
    wait_for(lambda: engine.get_request(engine.wf, unnamed["request_id"]).status_code == 404,
             timeout=60, message="the unnamed request removed after MR_RETENTION_S")
    assert engine.kv.count(keys.request_data(engine.wf, unnamed["request_id"])) == 0
    assert engine.get_request(engine.wf, named["request_id"]).json()["state"] == "done"
    assert engine.get_request(engine.wf, failed["request_id"]).json()["state"] == "failed"
    listed = requests.get(url(engine, f"/requests/{engine.wf}"), params={"state": "failed"},
                          timeout=30).json()["requests"]
    assert failed["request_id"] in {r["request_id"] for r in listed}
    stats = requests.get(url(engine, f"/stats/{engine.wf}"), timeout=30).json()
    assert stats["requests"]["by_job"]["fan"]["failed"] >= 1


def test_metrics_are_exposed_and_increase(engine):
    def front_total() -> float:
        text = requests.get(url(engine, "/metrics"), timeout=30).text
        return sum(float(v) for v in re.findall(
            rf'^mr_requests_total{{[^}}]*workflow="{engine.wf}"[^}}]*}} (\S+)$', text, re.M))
    before = front_total()
    assert requests.post(url(engine, f"/job/{engine.wf}/fan"), json={"arguments": {"n": 2}},
                         timeout=60).status_code == 200
    assert front_total() == before + 1
    ports = [unpack(e.value).get("metrics_port") for e in engine.kv.scan(keys.workers())
             if engine.wf in unpack(e.value).get("workflows", [])]
    assert ports and all(ports)
    worker_text = "".join(requests.get(f"http://127.0.0.1:{p}/metrics", timeout=30).text
                          for p in ports)
    assert re.search(rf'mr_invocations_total{{outcome="done",workflow="{engine.wf}"}} [1-9]',
                     worker_text)
    assert "mr_handler_seconds_count" in worker_text and "mr_queue_depth" in worker_text
    assert re.search(r'mr_etcd_request_seconds_count{method="Txn"} [1-9]', worker_text)
    assert "mr_invocations_in_flight" in worker_text


def test_a_non_blocking_request_times_out(engine):
    posted = requests.post(url(engine, f"/job/{engine.wf}/quick_timeout"),
                           params={"blocking": "false"},
                           json={"arguments": {"n": 2, "sleep": 5}}, timeout=30).json()
    ended = engine.wait_ended(engine.wf, posted["request_id"], timeout=60)
    assert ended["state"] == "failed" and ended["failure"]["reason"] == "timeout"


def test_a_lost_message_is_published_again(engine):
    """The sweeper finds a request whose message never reached a worker (MR_STALL_S)."""
    kv = engine.kv
    request = Request(workflow=engine.wf, id=unique("lost"), job="fan",
                      arguments=[["n", 3]], deadline=None)
    assert request_protocol.create_request(
        kv, request, Invocation(id="0", step="track_root", arguments=request.arguments))
    ended = engine.wait_ended(engine.wf, request.id, timeout=60)
    assert ended["state"] == "done" and ended["result"] == [["total", 5]]


def test_a_looping_step_graph_stops_at_the_depth_limit(engine):
    reply = requests.post(url(engine, f"/job/{engine.wf}/loop"), json={"arguments": {}},
                          timeout=60)
    assert reply.status_code == 500, reply.text
    failure = reply.json()["failure"]
    assert "deeper than 6 levels (MR_MAX_DEPTH)" in failure["message"]
    assert failure["invocation"] == "0" + ".0" * 6 and failure["handler"] == "track_loop"


def test_stderr_is_kept_apart_from_the_log(engine):
    """A Python handler's print and ctx.log are its log, its sys.stderr apart; a subprocess
    handler's stderr likewise: in the record (HTTP), and under its own heading (CLI)."""
    env = {**os.environ, **engine.env}
    for job, log, stderr in (
            ("streams", ["printed by the handler", "INFO logged by the handler"],
             "written to stderr by the handler\n"),
            ("streams_sh", None, "shell remark on stderr\n")):
        reply = requests.post(url(engine, f"/job/{engine.wf}/{job}"), json={"arguments": {}},
                              timeout=60)
        assert reply.status_code == 200, reply.text
        rid = reply.json()["request_id"]
        record = requests.get(url(engine, f"/request/{engine.wf}/{rid}/invocation/0"),
                              timeout=30).json()
        assert record["stderr"] == stderr, record
        assert (record["log"] or "").splitlines() == (log or []), record
        shown = subprocess.run(["mr_kv_invocation_get", engine.wf, rid, "0", "--log"],
                               env=env, capture_output=True, text=True, timeout=60)
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.endswith(f"--- stderr ---\n{stderr}"), shown.stdout
