"""Bad input, each a clear error and nothing lost, through the real front-end, workers and
scripts. Covered elsewhere: malformed/empty JSON, "arguments" not an object, wrong or missing
arguments (422), unknown workflow/job/request, Content-Length over the limit
(tests/integration/test_end_to_end.py); a looping step graph (MR_MAX_DEPTH,
tests/integration/tracking); a step naming a handler of the wrong type (tests/integration/cli).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from mr.handlers.sync import handler_from_file
from mr.kv import entities, keys
from mr.kv.models import Job, Step
from tests.integration.reliability.conftest import HANDLERS, SHARED, tree_total

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
    ("unstorable", "output of invocation 0 cannot be stored: can not serialize 'object' object"),
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
