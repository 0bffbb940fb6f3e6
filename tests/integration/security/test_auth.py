"""Bearer-token auth on a real gunicorn front-end: 401 without or with a malformed header,
403 with a wrong token, tokens from a file (re-read on change) and from the environment."""
import os

import pytest
import requests

from mr import cluster
from mr.kv import entities
from mr.kv.models import Workflow
from tests.support.cluster import unique


@pytest.fixture(scope="module")
def secured(etcd, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("auth")
    tokens = tmp / "tokens"
    tokens.write_text("# clients of the front-end\nalice:alice-secret-1\n\nbare-token-2\n")
    wf = unique("auth")
    from mr.kv.client import KV
    kv = KV([etcd.address], timeout=10)
    entities.create_workflow(kv, Workflow(wf, "auth tests"))
    kv.close()
    env = {"MR_ETCD_HOSTS": etcd.address, "MR_AUTH_TOKENS_FILE": str(tokens),
           "MR_AUTH_TOKENS": "ci:env-token-3",
           "MR_NSQD_HTTP_HOSTS": f"127.0.0.1:{cluster.free_port()}"}
    web = cluster.front_end(env, tmp / "gunicorn.log").start()
    web.tokens, web.wf = tokens, wf
    yield web
    web.stop()


def get(web, path: str, authorization: str | None = None) -> requests.Response:
    headers = {"Authorization": authorization} if authorization is not None else {}
    return requests.get(web.url + path, headers=headers, timeout=30)


def test_liveness_stays_open(secured):
    assert get(secured, "/").status_code == 200


@pytest.mark.parametrize("authorization, message", [
    (None, "authentication required: send 'Authorization: Bearer <token>'"),
    ("", "authentication required"),
    ("Basic YWxpY2U6eA==", "malformed Authorization header: expected 'Bearer <token>'"),
    ("Bearer", "malformed Authorization header"),
    ("Bearer two words", "malformed Authorization header"),
])
def test_missing_or_malformed_header_is_401(secured, authorization, message):
    reply = get(secured, f"/request/{secured.wf}/abc", authorization)
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"] == 'Bearer realm="mr"'
    assert reply.headers["Content-Type"] == "application/json"
    assert message in reply.json()["error"]


def test_wrong_token_is_403(secured):
    for wrong in ("alice-secret-", "alice-secret-1x", "alice:alice-secret-1", "x" * 500):
        reply = get(secured, f"/request/{secured.wf}/abc", f"Bearer {wrong}")
        assert reply.status_code == 403, wrong
        assert reply.json() == {"error": "invalid token: it is not one of this front-end's "
                                         "tokens"}


def test_posting_without_a_token_creates_nothing(secured, kv):
    from mr.kv import keys
    reply = requests.post(f"{secured.url}/job/{secured.wf}/any", json={"arguments": {}},
                          timeout=30)
    assert reply.status_code == 401
    assert "X-MR-REQUEST-ID" not in reply.headers
    assert kv.count(keys.requests(secured.wf)) == 0


@pytest.mark.parametrize("token", ["alice-secret-1", "bare-token-2", "env-token-3"])
def test_valid_tokens_pass(secured, token):
    reply = get(secured, f"/request/{secured.wf}/abc", f"Bearer {token}")
    assert reply.status_code == 404  # past auth: the request simply does not exist
    assert "request 'abc' not found" in reply.json()["error"]
    assert get(secured, f"/request/{secured.wf}/abc", f"bearer  {token} ").status_code == 404


def test_token_file_is_reread_when_it_changes(secured):
    original = secured.tokens.read_text()
    try:
        secured.tokens.write_text("rotated:new-secret-4\n")
        stat = os.stat(secured.tokens)  # make the change visible even within one mtime tick
        os.utime(secured.tokens, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
        for _ in range(4):  # both gunicorn workers
            assert get(secured, f"/request/{secured.wf}/abc",
                       "Bearer new-secret-4").status_code == 404
            assert get(secured, f"/request/{secured.wf}/abc",
                       "Bearer alice-secret-1").status_code == 403
    finally:
        secured.tokens.write_text(original)


def test_unreadable_token_file_fails_closed(etcd, tmp_path):
    env = {"MR_ETCD_HOSTS": etcd.address, "MR_AUTH_TOKENS_FILE": str(tmp_path / "missing")}
    web = cluster.front_end(env, tmp_path / "gunicorn.log").start()
    try:
        reply = get(web, "/request/wf/abc", "Bearer anything")
        assert reply.status_code == 500
        assert "cannot read MR_AUTH_TOKENS_FILE=" in reply.json()["error"]
        assert get(web, "/").status_code == 200
    finally:
        web.stop()
