"""One request end to end over real processes: etcd, mr_broker, two mr_worker, gunicorn."""
import json
import os
import subprocess
from pathlib import Path

import pytest

from mr import examples


def as_dict(pairs):
    return {key: value for key, value in pairs}


def test_word_count_equals_plain_count(engine):
    text = examples.corpus()
    reply = engine.post(engine.ex, "wordcount", {"text": text, "lines_per_chunk": 60})
    assert reply.status_code == 200, reply.text
    assert reply.headers["X-MR-REQUEST-ID"] == reply.json()["request_id"]
    assert as_dict(reply.json()["result"]) == examples.count_locally(text)


def test_numeric_fan_out(engine):
    reply = engine.post(engine.ex, "squares", {"n": 50})
    assert reply.status_code == 200, reply.text
    assert reply.json()["result"] == [["sum", sum(i * i for i in range(50))]]


def reducer_runs(engine, request_id):
    log = Path(engine.env["MR_DATA_DIR"]) / "reducer_runs.log"
    return [line.split()[1] for line in log.read_text().splitlines()
            if line.startswith(request_id + " ")]


def test_nested_fan_out_reduces_each_level_once(engine):
    reply = engine.post(engine.cases, "nested", {"n": 4})
    assert reply.status_code == 200, reply.text
    assert reply.json()["result"] == [["total", sum(10 * i + j for i in range(4)
                                                    for j in range(3))]]
    runs = reducer_runs(engine, reply.json()["request_id"])
    # 12 leaves reduce their own output, 4 middle mappers and the root reduce their children.
    assert sorted(runs) == sorted([f"0.{i}.{j}" for i in range(4) for j in range(3)]
                                  + [f"0.{i}.r" for i in range(4)] + ["0.r"])


def test_custom_combiner_runs_on_mapper_output(engine):
    reply = engine.post(engine.cases, "letters", {"text": "abca"})
    assert reply.status_code == 200, reply.text
    assert as_dict(reply.json()["result"]) == {"a": 2, "b": 1, "c": 1, "_combined": 1}


def test_fan_out_to_zero_children_completes(engine):
    reply = engine.post(engine.cases, "zero", {})
    assert reply.status_code == 200, reply.text
    assert reply.json()["result"] == [["received", 0]]


def test_reducer_that_yields_nothing_gives_empty_result(engine):
    reply = engine.post(engine.cases, "empty", {"text": "xyz"})
    assert reply.status_code == 200, reply.text
    assert reply.json()["result"] == []


def test_non_blocking_request_then_get(engine):
    reply = engine.post(engine.ex, "squares", {"n": 10}, blocking=False)
    assert reply.status_code == 202, reply.text
    request_id = reply.json()["request_id"]
    assert reply.headers["X-MR-REQUEST-ID"] == request_id
    body = engine.wait_ended(engine.ex, request_id)
    assert body["state"] == "done" and body["result"] == [["sum", 285]]
    assert body["job"] == "squares"


def test_file_result_writer(engine):
    reply = engine.post(engine.cases, "letters_file", {"text": "aab"})
    assert reply.status_code == 200, reply.text
    path = Path(reply.json()["result_path"])
    assert path.is_relative_to(engine.env["MR_RESULT_DIR"])
    assert as_dict(json.loads(path.read_text())["pairs"]) == {"a": 2, "b": 1, "_combined": 1}
    cleaned = subprocess.run(["mr_kv_request_cleanup", engine.cases, reply.json()["request_id"]],
                             env={**os.environ, **engine.env}, capture_output=True, text=True,
                             timeout=60)
    assert cleaned.returncode == 0, cleaned.stderr
    assert not path.exists()   # the result file goes with its request


def test_handler_error_is_500_with_traceback_and_log(engine):
    reply = engine.post(engine.cases, "explode", {})
    assert reply.status_code == 500
    body = reply.json()
    failure = body["failure"]
    assert body["error"] == "handler explode raised ValueError: boom"
    assert failure["invocation"] == "0" and failure["handler"] == "explode"
    assert 'explode.py", line 16, in handle' in failure["traceback"]
    assert "ValueError: boom" in failure["traceback"]
    assert "about to fail" in failure["log"] and "arguments were" in failure["log"]
    again = engine.get_request(engine.cases, body["request_id"]).json()
    assert again["state"] == "failed" and again["failure"]["traceback"] == failure["traceback"]


@pytest.mark.parametrize("body, status, message", [
    (b"{not json", 400, "body is not valid JSON"),
    (b"", 400, "empty body"),
    (b'{"args": {}}', 400, 'body must be a JSON object with an "arguments" object'),
    (b'{"arguments": [1, 2]}', 400, 'body must be a JSON object with an "arguments" object'),
    (b'{"arguments": {"text": 5}}', 422, "argument 'text' must be str, got int"),
    (b'{"arguments": {}}', 422, "missing required argument 'text' (str)"),
    (b'{"arguments": {"text": "a", "colour": 1}}', 422, "unknown argument(s): colour"),
])
def test_bad_bodies(engine, body, status, message):
    import requests
    reply = requests.post(f"{engine.web.url}/job/{engine.ex}/wordcount", data=body,
                          headers={"Content-Type": "application/json"}, timeout=30)
    assert reply.status_code == status
    assert message in reply.json()["error"]


def test_unknown_names_are_404(engine):
    assert "workflow 'nope_x' not found" in engine.post("nope_x", "wordcount", {}).json()["error"]
    reply = engine.post(engine.ex, "no_such_job", {})
    assert reply.status_code == 404
    assert reply.json()["error"] == f"job 'no_such_job' not found in workflow {engine.ex!r}"
    assert engine.get_request(engine.ex, "f" * 32).status_code == 404


def test_oversized_body_is_413(engine):
    import requests
    huge = json.dumps({"arguments": {"text": "x" * (1024 * 1024 + 10)}})
    reply = requests.post(f"{engine.web.url}/job/{engine.ex}/wordcount", data=huge, timeout=30)
    assert reply.status_code == 413
    assert "exceeds the limit" in reply.json()["error"]


def test_services_down_are_503(engine, tmp_path):
    from mr import cluster
    from mr.cluster import free_port
    no_nsq = dict(engine.env, MR_NSQD_HTTP_HOSTS=f"127.0.0.1:{free_port()}")
    no_etcd = dict(engine.env, MR_ETCD_HOSTS=f"127.0.0.1:{free_port()}", MR_ETCD_TIMEOUT_S="1")
    for env, expected in ((no_nsq, "NSQ unavailable"), (no_etcd, "etcd unavailable")):
        web = cluster.front_end(env, tmp_path / "web.log").start()
        try:
            import requests
            reply = requests.post(f"{web.url}/job/{engine.ex}/squares",
                                  json={"arguments": {"n": 1}}, timeout=30)
            assert reply.status_code == 503, reply.text
            assert expected in reply.json()["error"]
            if expected.startswith("NSQ"):  # the request was recorded, and ended, not lost
                record = engine.get_request(engine.ex, reply.headers["X-MR-REQUEST-ID"]).json()
                assert record["state"] == "failed" and record["failure"]["reason"] == "queue"
        finally:
            web.stop()


def test_each_front_end_has_its_own_control_socket(engine, tmp_path):
    """Stopping one front-end leaves the others' gunicorn control sockets in place."""
    from mr import cluster
    from mr.cluster import wait_for
    env = dict(engine.env, XDG_RUNTIME_DIR=str(tmp_path))
    first = cluster.front_end(env, tmp_path / "first.log").start()
    second = cluster.front_end(env, tmp_path / "second.log").start()
    try:
        sockets = [tmp_path / f"mr-{web.url.rsplit('/', 1)[1].replace(':', '-')}.ctl"
                   for web in (first, second)]
        wait_for(lambda: all(path.exists() for path in sockets), timeout=30,
                 message="both control sockets")
        first.stop()
        wait_for(lambda: not sockets[0].exists(), timeout=30, message="the first one removed")
        assert sockets[1].exists()
    finally:
        first.stop()
        second.stop()
