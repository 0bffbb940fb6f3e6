"""etcd, the broker and the front-end stopped or killed while requests run: every request
ends with its correct result, nothing is run twice, and nobody waits past a deadline."""
from __future__ import annotations

import os
import signal
import threading
import time

import requests

from mr.cluster import wait_for
from mr.kv import entities, keys
from mr.kv.codec import unpack
from mr.kv.models import Job
from tests.integration.reliability.conftest import (
    ETCD_TIMEOUT_S,
    assert_tree_done,
    progress,
    start_tree,
    tally_log,
    tree_invocations,
    tree_total,
)
from tests.support import chaos
from tests.support.cluster import unique


class Blocking:
    """A blocking POST in a thread; .reply or .error once it returns."""

    def __init__(self, engine, path: str, arguments: dict, timeout: float = 60):
        self.reply, self.error = None, None
        self.url = f"{engine.web.url}{path}"
        self._thread = threading.Thread(target=self._post, args=(arguments, timeout),
                                        daemon=True)
        self._thread.start()

    def _post(self, arguments: dict, timeout: float) -> None:
        try:
            self.reply = requests.post(self.url, json={"arguments": arguments}, timeout=timeout)
        except requests.RequestException as exc:
            self.error = exc

    def join(self, timeout: float) -> Blocking:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"POST {self.url} still blocked after {timeout}s"
        return self


def test_etcd_restart_mid_request(rel, own_etcd):
    request_id = start_tree(rel, sleep=0.2)
    wait_for(lambda: progress(rel, request_id) >= 4, timeout=30, message="some reductions")
    chaos.stop_service(own_etcd)
    own_etcd.start()  # same data directory, same ports
    assert_tree_done(rel, request_id, set())


def test_etcd_outage_longer_than_the_client_timeout(rel, own_etcd):
    """Calls fail during the outage (their messages come back later); a blocking client waits
    it out; a POST during the outage is refused at once with a clear reason."""
    name = unique("outage")   # this request, not one an earlier test left running
    blocking = Blocking(rel, f"/job/{rel.wf}/tree?name={name}",
                        {"groups": 3, "leaves": 4, "sleep": 0.2})
    bound = wait_for(lambda: rel.kv.get(keys.name(rel.wf, name)), timeout=30,
                     message="the named request")
    request_id = unpack(bound.value)["request_id"]
    wait_for(lambda: progress(rel, request_id) >= 2, timeout=30, message="the request under way")
    chaos.stop_service(own_etcd)
    started = time.monotonic()
    refused = requests.post(f"{rel.web.url}/job/{rel.wf}/tree",
                            json={"arguments": {"groups": 1, "leaves": 1}}, timeout=30)
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"].startswith("etcd unavailable: etcd at ")
    assert time.monotonic() - started < ETCD_TIMEOUT_S * 3
    # Stay down past the workers' etcd timeout, so in-flight calls fail for real.
    time.sleep(max(0.0, ETCD_TIMEOUT_S + 1 - (time.monotonic() - started)))
    own_etcd.start()
    reply = blocking.join(90).reply
    assert reply is not None and reply.status_code == 200, blocking.error or reply.text
    assert reply.json()["result"] == [["total", tree_total(3, 4)]]
    assert reply.json()["request_id"] == request_id
    runs = chaos.runs_of(tally_log(rel), request_id)
    assert len(runs) == tree_invocations(3, 4)


def test_broker_restart_with_data_path_loses_nothing(rel):
    request_id = start_tree(rel, sleep=0.2)
    wait_for(lambda: progress(rel, request_id) >= 4, timeout=30, message="some reductions")
    chaos.stop_service(rel.broker)  # SIGTERM: queued and in-flight messages go to disk
    rel.broker.start()
    assert_tree_done(rel, request_id, set())


def test_broker_killed_and_restarted_is_noticed_at_once(rel):
    """SIGKILL loses the broker's in-memory messages. Restarted at once, it answers with a new
    start time; the sweeper publishes the unfinished invocations again from etcd within a
    pass or two, long before MR_STALL_S (120 s here) would."""
    assert int(rel.env.get("MR_STALL_S", "120")) >= 120
    request_id = start_tree(rel, sleep=0.2)
    wait_for(lambda: progress(rel, request_id) >= 4, timeout=30, message="some reductions")
    chaos.sigkill(rel.broker)
    killed = time.monotonic()
    rel.broker.start()
    assert_tree_done(rel, request_id, set(), timeout=40)
    print(f"done {time.monotonic() - killed:.1f} s after the broker's SIGKILL")


def kill_front_end(engine) -> None:
    """SIGKILL gunicorn's master and workers at once (they share a process group)."""
    os.killpg(engine.web.pid, signal.SIGKILL)
    engine.web.proc.wait(10)
    engine.start_web()


def test_front_end_killed_while_a_client_blocks(rel):
    """The request runs on; the client asks again by name (or by id) and gets the result."""
    name = unique("blocked")
    arguments = {"groups": 3, "leaves": 4, "sleep": 0.2}
    blocking = Blocking(rel, f"/job/{rel.wf}/tree?name={name}", arguments)
    bound = wait_for(lambda: rel.kv.get(keys.name(rel.wf, name)), timeout=30,
                     message="the named request")
    request_id = unpack(bound.value)["request_id"]
    wait_for(lambda: progress(rel, request_id) >= 2, timeout=30, message="some reductions")
    kill_front_end(rel)
    assert blocking.join(30).error is not None  # the connection died with the front-end
    again = requests.post(f"{rel.web.url}/job/{rel.wf}/tree", params={"name": name},
                          json={"arguments": arguments}, timeout=60)
    assert again.status_code == 200, again.text
    assert again.headers["X-MR-REQUEST-ID"] == request_id
    assert again.json()["result"] == [["total", tree_total(3, 4)]]
    assert rel.get_request(rel.wf, request_id).json()["state"] == "done"
    runs = chaos.runs_of(tally_log(rel), request_id)
    assert len(runs) == tree_invocations(3, 4) and max(map(len, runs.values())) == 1


def test_front_end_killed_after_a_non_blocking_post(rel):
    request_id = start_tree(rel, sleep=0.1)
    kill_front_end(rel)
    assert_tree_done(rel, request_id, set())


def test_a_blocking_client_is_answered_by_its_deadline_while_etcd_is_down(rel, own_etcd):
    """The deadline passes during an etcd outage: the client still gets an answer (503: the
    front-end cannot record the timeout), and once etcd is back the request ends."""
    limit = 4
    entities.save(rel.kv, Job(rel.wf, "tree_short", "root", timeout_s=limit))
    posted = time.monotonic()
    blocking = Blocking(rel, f"/job/{rel.wf}/tree_short",
                        {"groups": 1, "leaves": 2, "sleep": limit + 2.0})  # cannot finish
    record = wait_for(lambda: next((e for e in rel.kv.scan(keys.requests(rel.wf))
                                    if unpack(e.value)["job"] == "tree_short"), None),
                      timeout=30, message="the request recorded")
    chaos.stop_service(own_etcd)
    try:
        reply = blocking.join(limit + 4 * ETCD_TIMEOUT_S + 10).reply
        assert time.monotonic() - posted < limit + 4 * ETCD_TIMEOUT_S + 10
        assert reply is not None and reply.status_code in (503, 504), reply
        assert reply.json()["error"]
    finally:
        own_etcd.start()
    request_id = unpack(record.value)["id"]
    body = rel.wait_ended(rel.wf, request_id, timeout=60)
    # Whoever writes first once etcd is back: the sweeper (timeout) or the workers, whose work
    # may finish after the deadline nobody could record.
    assert body["state"] == "done" or body["failure"]["reason"] == "timeout", body
