"""The event streams over HTTP: a request's stream follows it and ends with it; a stream whose
client went away gives its etcd watches back; with authentication on, /ui/ takes the token as
?token= or cookie (EventSource cannot send headers) and the JSON API still wants the header."""
from __future__ import annotations

import json
import re
import urllib.request

import pytest
import requests

from mr import cluster
from mr.cluster import wait_for

TOKEN = "ui-secret-token"


def events(reply: requests.Response):
    """(event, data) pairs of a text/event-stream response, as they come."""
    name = None
    for line in reply.iter_lines(decode_unicode=True):
        if line.startswith("event: "):
            name = line[len("event: "):]
        elif line.startswith("data: ") and name:
            yield name, json.loads(line[len("data: "):])
            name = None


def etcd_watchers(engine) -> int:
    with urllib.request.urlopen(f"http://{engine.etcd_address}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    return int(float(re.search(r"^etcd_debugging_mvcc_watcher_total (\S+)$", text,
                               re.M).group(1)))


def test_a_request_stream_follows_the_request_and_ends_with_it(engine):
    reply = engine.post(engine.wf, "fan", {"n": 16, "sleep": 0.3}, blocking=False)
    rid = reply.json()["request_id"]
    with requests.get(f"{engine.web.url}/ui/{engine.wf}/request/{rid}/events", stream=True,
                      timeout=60) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        assert stream.headers["X-Accel-Buffering"] == "no"
        seen = list(events(stream))  # returns because the server ends the stream
    names = [name for name, _ in seen]
    assert names[0] == "progress" and names[1] == "request" and names[-1] == "end"
    percents = [data["percent"] for name, data in seen if name == "progress"]
    assert percents == sorted(percents) and percents[-1] == 100 and len(percents) >= 3
    states = [data["state"] for name, data in seen if name == "request"]
    assert states == ["running", "done"]
    assert seen[-1][1]["state"] == "done"


def test_streams_whose_clients_left_give_their_watches_back(engine, browser):
    browser.get("about:blank")  # the browser tests' pages stop streaming (within a heartbeat)
    running = engine.post(engine.wf, "fan", {"n": 400, "sleep": 0.5}, blocking=False)
    rid = running.json()["request_id"]  # runs for 25 s: its followers are stopped, not ended
    clients = 5
    before = etcd_watchers(engine)
    streams = [requests.get(f"{engine.web.url}/ui/{engine.wf}/events", stream=True,
                            timeout=30) for _ in range(clients)]
    streams.append(requests.get(f"{engine.web.url}/ui/{engine.wf}/request/{rid}/events",
                                stream=True, timeout=30))
    for stream in streams:
        assert next(events(stream))[0] in ("snapshot", "progress")
    # an overview holds three watches: the workflow's requests, the workers and the running
    # request's progress; the request's stream one (the count may also hold watches of streams
    # the browser left, going, and of a gunicorn process's first look at the workflow, staying)
    opened = 3 * clients + 1

    def all_watching() -> int | None:
        """A stream's first event can come before all its watches are set up."""
        now = etcd_watchers(engine)
        return now if now >= before + opened - 4 else None
    during = wait_for(all_watching, timeout=30, interval=0.2, message="the streams' watches")
    for stream in streams:
        stream.close()  # the browser went away
    try:
        # noticed at the next keep-alive write at the latest (ui_sse.HEARTBEAT_S)
        # (the same slack as above: other processes of the suite open and close watches too)
        wait_for(lambda: etcd_watchers(engine) <= during - opened + 4, timeout=90,
                 interval=0.2, message="the streams' watches cancelled")
        assert engine.get_request(engine.wf, rid).json()["state"] == "running"
    finally:
        requests.delete(f"{engine.web.url}/request/{engine.wf}/{rid}", timeout=10)


@pytest.fixture(scope="module")
def guarded(engine, tmp_path_factory):
    """A second front-end of the same cluster, with bearer tokens on."""
    web = cluster.front_end({**engine.env, "MR_AUTH_TOKENS": f"tester:{TOKEN}"},
                            tmp_path_factory.mktemp("auth") / "gunicorn.log").start()
    yield web
    web.stop()


def test_with_auth_on_the_view_takes_the_token_as_query_or_cookie(engine, guarded):
    page = f"{guarded.url}/ui/{engine.wf}/"
    assert requests.get(page, timeout=10).status_code == 401
    assert requests.get(page, params={"token": "wrong"}, timeout=10).status_code == 403
    first = requests.get(page, params={"token": TOKEN}, timeout=10)
    assert first.status_code == 200 and "Recent requests" in first.text
    cookie = first.headers["Set-Cookie"]
    assert cookie.startswith(f"mr_token={TOKEN};") and "SameSite=Strict" in cookie

    session = requests.Session()
    session.cookies.set("mr_token", TOKEN)
    assert session.get(page, timeout=10).status_code == 200
    assert "Set-Cookie" not in session.get(page, timeout=10).headers
    with session.get(f"{guarded.url}/ui/{engine.wf}/events", stream=True,
                     timeout=30) as stream:
        assert stream.status_code == 200 and next(events(stream))[0] == "snapshot"
    # the cookie is for /ui/ only: the JSON API still wants the header
    api = f"{guarded.url}/requests/{engine.wf}"
    assert session.get(api, timeout=10).status_code == 401
    assert requests.get(api, params={"token": TOKEN}, timeout=10).status_code == 401
    assert requests.get(api, headers={"Authorization": f"Bearer {TOKEN}"},
                        timeout=10).status_code == 200


def test_with_auth_on_the_cancel_button_sends_the_token(engine, guarded, browser):
    reply = engine.post(engine.wf, "fan", {"n": 40, "sleep": 0.5}, blocking=False)
    rid = reply.json()["request_id"]
    browser.get(f"{guarded.url}/ui/{engine.wf}/request/{rid}?token={TOKEN}")
    wait_for(lambda: browser.execute_script("return document.body.dataset.stream") == "open",
             timeout=20, message="the request's stream open")
    assert "token" not in browser.current_url  # kept in the cookie, not in the history
    browser.execute_script("document.getElementById('cancel').click()")
    wait_for(lambda: browser.execute_script(
        "return document.querySelector('#summary dl.facts').dataset.state") == "cancelled",
        timeout=30, message="the page showing the request cancelled")
    body = engine.get_request(engine.wf, rid).json()
    assert body["state"] == "cancelled"
