"""Bad input, each a clear error and nothing lost, through the real front-end, workers and
scripts. Covered elsewhere: malformed/empty JSON, "arguments" not an object, wrong or missing
arguments (422), unknown workflow/job/request, Content-Length over the limit
(tests/integration/test_end_to_end.py); a looping step graph (MR_MAX_DEPTH,
tests/integration/tracking); a step naming a handler of the wrong type (tests/integration/cli).
"""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from mr.handlers.sync import handler_from_file
from mr.kv import entities, keys
from mr.kv.models import Job, Step
from tests.integration.reliability.conftest import BODY_TIMEOUT_S, HANDLERS, SHARED, tree_total

BIN = Path(sys.executable).parent
TREE = {"groups": 2, "leaves": 2}


def post(engine, path: str, data: bytes, **headers) -> requests.Response:
    return requests.post(f"{engine.web.url}{path}", data=data, headers=headers, timeout=60)


@pytest.mark.parametrize("body, message", [
    (b"[1, 2]", 'body must be a JSON object with an "arguments" object'),
    (b'"arguments"', 'body must be a JSON object'),
    (b"null", 'body must be a JSON object'),
    (b"42", 'body must be a JSON object'),
    (b'{"arguments": null}', 'body must be a JSON object'),
    (b'{"arguments": {}, "extra": 1}', "unknown field(s) in body: extra"),
    (b'{"arguments": {"groups": "\xff"}}', "body is not valid JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "body is not valid JSON: nested too deeply"),
])
def test_bodies_that_are_not_a_request_are_400(rel, body, message):
    reply = post(rel, f"/job/{rel.wf}/tree", body, **{"Content-Type": "application/json"})
    assert reply.status_code == 400, reply.text
    assert message in reply.json()["error"]


def test_a_body_shorter_than_its_content_length_is_408_not_a_hang(rel):
    """The client sends 20 of the 200 bytes it announced, then waits: the front-end answers
    408 after MR_BODY_TIMEOUT_S and closes the connection, freeing its slot."""
    host, port = rel.web.url.rsplit("/", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=BODY_TIMEOUT_S + 20) as conn:
        conn.sendall(f"POST /job/{rel.wf}/tree HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     f"application/json\r\nContent-Length: 200\r\n\r\n".encode()
                     + b'{"arguments": {"grou')
        reply = b""
        while chunk := conn.recv(65536):   # until the front-end closes the connection
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 Request Timeout"), reply
    assert json.loads(body)["error"].startswith(f"the body did not arrive within "
                                                f"{BODY_TIMEOUT_S}s (MR_BODY_TIMEOUT_S)")


@pytest.mark.parametrize("method, path, message", [
    ("POST", "/job/{wf}/tree?blockng=false",
     "unknown query parameter(s) blockng: this takes blocking, name, recompute"),
    ("GET", "/requests/{wf}?limit=-1", "limit must be >= 1"),
    ("GET", "/requests/{wf}?limit=0", "limit must be >= 1"),
    ("GET", "/requests/{wf}?limit=ten", "limit='ten' is not a whole number"),
    ("GET", "/requests/{wf}?sate=done", "unknown query parameter(s) sate: this takes state, "
                                        "job, limit, name"),
])
def test_query_parameters_are_checked_not_ignored(rel, method, path, message):
    reply = requests.request(method, rel.web.url + path.format(wf=rel.wf), timeout=30,
                             json={"arguments": TREE})
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"] == message


def test_what_gunicorn_refuses_itself_is_answered_in_json_too(rel):
    reply = requests.get(f"{rel.web.url}/requests/{rel.wf}?state={'x' * 5000}", timeout=30)
    assert reply.status_code == 414, reply.text
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json()["error"].startswith("URI Too Long")


@pytest.mark.parametrize("content_type, status", [
    ("application/json", 200), ("application/json; charset=utf-8", 200),
    ("application/vnd.mr+json", 200), (None, 200),
    ("application/x-www-form-urlencoded", 415), ("text/plain", 415),
    ("multipart/form-data; boundary=x", 415), ("application/xml", 415),
])
def test_content_type(rel, content_type, status):
    headers = {"Content-Type": content_type} if content_type else {}
    reply = post(rel, f"/job/{rel.wf}/tree", b'{"arguments": {"groups": 1, "leaves": 2}}',
                 **headers)
    assert reply.status_code == status, reply.text
    if status == 415:
        assert reply.json()["error"].startswith(f"Content-Type {content_type.split(';')[0]} "
                                                f"is not supported: send the body as "
                                                f"application/json")
    else:
        assert reply.json()["result"] == [["total", tree_total(1, 2)]]


def test_chunked_bodies_are_read_and_limited(rel):
    def chunks(*parts: bytes):
        yield from parts
    reply = requests.post(f"{rel.web.url}/job/{rel.wf}/tree", timeout=60, data=chunks(
        b'{"arguments": ', b'{"groups": 1, "leaves": 3}}'))
    assert reply.status_code == 200, reply.text
    assert reply.json()["result"] == [["total", tree_total(1, 3)]]
    huge = chunks(b'{"arguments": {"x": "', b"y" * (1024 * 1024), b'"}}')
    reply = requests.post(f"{rel.web.url}/job/{rel.wf}/tree", data=huge, timeout=60)
    assert reply.status_code == 413
    assert "exceeds the limit of 1048576 bytes (MR_MAX_BODY_BYTES)" in reply.json()["error"]


@pytest.mark.parametrize("path, message", [
    ("/job/bad.name/tree", "workflow 'bad.name' not found"),
    ("/job/a%2Fb/tree", "no route for /job/a/b/tree"),
    ("/job/w%C3%B6rk/tree", "workflow 'wörk' not found"),
    ("/job/" + "w" * 300 + "/tree", "not found"),
    ("/job/{wf}/tr.ee", "job 'tr.ee' not found"),
    ("/job/{wf}/tr%C3%A9e", "job 'trée' not found in workflow"),
    ("/job/{wf}/j\u00f6b", "job 'jöb' not found in workflow"),  # sent as raw UTF-8
    ("/job/{wf}/j%F6b", "job 'j\ufffdb' not found in workflow"),  # not UTF-8
    ("/job/{wf}/tr%C3%A9e/x", "no route for /job/{wf}/trée/x"),
    ("/job/{wf}/" + "j" * 300, "not found in workflow"),
    ("/job/{wf}/tree/extra", "no route for"),
])
def test_odd_names_in_the_url_are_404(rel, path, message):
    reply = post(rel, path.format(wf=rel.wf), b'{"arguments": {"groups": 1, "leaves": 1}}')
    assert reply.status_code == 404, reply.text
    assert message.format(wf=rel.wf) in reply.json()["error"]


@pytest.mark.parametrize("request_id", ["%2e%2e", "x%00y", "%C3%A9", "a" * 500, "0;drop"])
def test_odd_request_ids_are_404(rel, request_id):
    reply = requests.get(f"{rel.web.url}/request/{rel.wf}/{request_id}", timeout=30)
    assert reply.status_code == 404 and "not found in workflow" in reply.json()["error"]
    if request_id == "%C3%A9":
        assert reply.json()["error"].startswith("request 'é' not found")


def test_odd_request_names_are_400(rel):
    for name in ("bad.name", "a/b", "é", "n" * 200):
        reply = requests.post(f"{rel.web.url}/job/{rel.wf}/tree", params={"name": name},
                              json={"arguments": TREE}, timeout=30)
        assert reply.status_code in (400, 404), reply.text
        assert "invalid request name" in reply.json()["error"] or "no route" in reply.json()[
            "error"]


@pytest.mark.parametrize("job, message", [
    ("bad_pairs", "handler bad_pairs yielded ('a', 'b', 'c'); expected a (key, value) pair"),
    ("unstorable", "output of invocation 0 cannot be stored: pairs[0][1]: a value of type "
                   "object is not a JSON value"),
    ("to_nowhere", "mapper to_nowhere mapped to unknown step 'no_such_step'"),
])
def test_handlers_that_break_the_contract_fail_their_request_at_once(rel, job, message):
    reply = requests.post(f"{rel.web.url}/job/{rel.wf}/{job}", json={"arguments": {}},
                          timeout=30)
    assert reply.status_code == 500, reply.text
    body = reply.json()
    assert body["error"] == message and body["failure"]["invocation"] == "0"
    again = rel.get_request(rel.wf, body["request_id"]).json()  # the record is kept
    assert again["state"] == "failed" and again["failure"]["message"] == message
    assert rel.post(rel.wf, "tree", TREE).json()["result"] == [["total", tree_total(2, 2)]]


@pytest.mark.parametrize("kind, problem", [
    ("bigint", "the integer 1267650600228229401496703205376 does not fit 64 bits; send it as a "
               "string"),
    ("bytes", "bytes are not a JSON value; decode them to str, or base64-encode them"),
    ("nan", "nan is not a JSON number; use null or a string"),
])
def test_an_output_that_is_not_json_fails_as_the_handlers_fault(rel, kind, problem):
    """Not an engine error retried three times and answered 503 ("etcd or NSQ is down"), and
    never bytes turned into their repr or a bare NaN in the reply."""
    reply = requests.post(f"{rel.web.url}/job/{rel.wf}/unstorable",
                          json={"arguments": {"kind": kind}}, timeout=30)
    assert reply.status_code == 500, reply.text
    failure = reply.json()["failure"]
    assert failure["reason"] == "handler" and failure["attempt"] == 1, failure
    assert failure["message"] == f"output of invocation 0 cannot be stored: pairs[0][1]: {problem}"


@pytest.mark.parametrize("body, message", [
    (b'{"arguments": {"groups": 1267650600228229401496703205376}}',
     "body: the integer 1267650600228229401496703205376 does not fit 64 bits; send it as a "
     "string"),
    (b'{"arguments": {"groups": -9223372036854775809}}', "does not fit 64 bits"),
    (b'{"arguments": {"groups": NaN}}', "body: NaN is not a JSON number; use null or a string"),
    (b'{"arguments": {"groups": [Infinity]}}', "body: Infinity is not a JSON number"),
])
def test_request_values_json_or_msgpack_cannot_carry_are_400(rel, body, message):
    reply = post(rel, f"/job/{rel.wf}/tree", body, **{"Content-Type": "application/json"})
    assert reply.status_code == 400, reply.text
    assert message in reply.json()["error"]


def test_a_handler_synced_as_the_wrong_type_for_its_step_fails_clearly(rel, tmp_path):
    """A step's mapper re-synced as a reducer is refused by the sync; written into etcd
    anyway, the request fails with a record, not a hang."""
    handlers = tmp_path / "handlers"
    shutil.copytree(HANDLERS, handlers)
    (handlers / "flip.py").write_text((HANDLERS / "bad_pairs.py").read_text())
    assert rel.sync(rel.wf, handlers, shared=SHARED).returncode == 0
    entities.save(rel.kv, Step(rel.wf, "flip", "flip", "tally"))
    entities.save(rel.kv, Job(rel.wf, "flip", "flip"))
    (handlers / "flip.py").write_text((HANDLERS / "tally.py").read_text())
    refused = rel.sync(rel.wf, handlers, shared=SHARED)
    assert refused.returncode == 2
    assert "handler 'flip' would become a reducer, but step(s) flip use it" in refused.stderr
    entities.save(rel.kv, handler_from_file(rel.wf, handlers / "flip.py", "flip", "flip.py"))
    reply = requests.post(f"{rel.web.url}/job/{rel.wf}/flip", json={"arguments": {}},
                          timeout=30)
    assert reply.status_code == 500, reply.text
    failure = reply.json()["failure"]
    assert failure["handler"] == "flip"
    assert "step 'flip' uses handler 'flip' as its mapper, but version" in failure["message"]
    assert "of it is a reducer: point the step at a mapper" in failure["message"]


@pytest.mark.parametrize("change, message", [
    (("yield Return()", "yield Return("), "syntax error"),
    (("argument_spec:", "argument_spec: ["), "metadata is not valid YAML"),
    (("required_capability: general\n", ""), "metadata lacks required_capability"),
    (("handler_type: mapper\n", "handler_type: mapper\ncolour: red\n"),
     "unknown metadata key(s) colour"),
    (("{name: arguments, type: list}", "{name: results, type: list}"),
     "argument_spec of a mapper is [{name: arguments, type: list}]"),
    (("handler_type: mapper", "handler_type: mapperish"), "handler_type must be one of"),
])
def test_broken_handler_files_are_refused_and_nothing_is_written(rel, tmp_path, change, message):
    handlers = tmp_path / "handlers"
    shutil.copytree(HANDLERS, handlers)
    leaf = handlers / "tree_leaf.py"
    leaf.write_text(leaf.read_text().replace(*change))
    (handlers / "brand_new.py").write_text((HANDLERS / "tally.py").read_text())
    before = {e.key: e.mod_revision for e in rel.kv.scan(keys.definitions(rel.wf))}
    done = subprocess.run([str(BIN / "mr_kv_handler_store"), rel.wf, str(handlers)],
                          env={**rel.env, "PATH": str(BIN)}, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(f"error: {leaf}:") and message in done.stderr
    assert done.stderr.strip().endswith("(nothing was written)")
    assert {e.key: e.mod_revision for e in rel.kv.scan(keys.definitions(rel.wf))} == before
