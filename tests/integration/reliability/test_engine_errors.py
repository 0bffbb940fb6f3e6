"""An exception from the engine's own code that is no outage (a bug, corrupt data in etcd)
fails its request after MR_ENGINE_ERROR_ATTEMPTS deliveries with reason "engine", the real
exception's traceback and a request_failed notification, instead of coming back until the
deadline says "timeout". (An etcd outage still only delays a request: test_restarts.py.)

The children of the job here need the capability "later", which no worker offers until the
test has corrupted one child's record in etcd: nothing runs it before that.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mr import cluster
from mr.cluster import wait_for
from mr.engine.faults import UNREADABLE
from mr.kv import entities, keys
from mr.kv.models import Invocation, Job, Step, decode, encode
from tests.integration.environment.conftest import listener  # noqa: F401 (a fixture)
from tests.integration.reliability.conftest import HANDLERS, SHARED

ATTEMPTS = 3  # MR_ENGINE_ERROR_ATTEMPTS's default

FAN = '''"""Fan out `children` leaves that need the capability "later".

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: dict}
request_arguments:
  children: int
"""
from mr.handlers.api import MapTo


def handle(ctx, arguments):
    yield MapTo("later_leaf")
    for i in range(arguments["children"]):
        yield i, {"value": i, "sleep": 0}
'''


@pytest.fixture(scope="module")
def later(rel, tmp_path_factory):
    """The job `fan_later` in rel's workflow: a root fanning out leaves of capability later."""
    handlers = tmp_path_factory.mktemp("later") / "handlers"
    shutil.copytree(HANDLERS, handlers)
    (handlers / "fan_later.py").write_text(FAN)
    leaf = (HANDLERS / "tree_leaf.py").read_text()
    (handlers / "later_leaf.py").write_text(leaf.replace("required_capability: general",
                                                         "required_capability: later"))
    synced = rel.sync(rel.wf, handlers, shared=SHARED)
    assert synced.returncode == 0, synced.stderr
    entities.save(rel.kv, Step(rel.wf, "fan_later", "fan_later", "tally"))
    entities.save(rel.kv, Step(rel.wf, "later_leaf", "later_leaf", "tally"))
    entities.save(rel.kv, Job(rel.wf, "fan_later", "fan_later"))
    return rel


def start_later_worker(engine, env: dict[str, str]) -> cluster.Service:
    """A worker offering only "later", not in engine.workers (the caller stops it)."""
    before = engine.kv.count(keys.workers())
    worker = cluster.worker("later-worker", {**engine.env, **env}, engine.tmp / "later.log",
                            "--concurrency", "4", "--capability", "later").start()
    wait_for(lambda: engine.kv.count(keys.workers()) > before, timeout=30,
             message="the later worker registered", process=worker.proc, log=worker.log_path)
    return worker


def queued_children(engine, rid: str, count: int) -> bool:
    found = [e.key.rsplit("/", 1)[1] for e in engine.kv.scan(keys.invocations(engine.wf, rid))]
    return sum(1 for iid in found if iid.count(".") == 1 and not iid.endswith(".r")) >= count


def test_engine_errors_fail_the_request_with_reason_engine(later, listener):
    wf = later.wf
    rids = []
    for _ in range(2):
        reply = later.post(wf, "fan_later", {"children": 3}, blocking=False)
        assert reply.status_code == 202, reply.text
        rids.append(reply.json()["request_id"])
        wait_for(lambda: queued_children(later, rids[-1], 3), timeout=30,
                 message="the children written, none run")
    bad_arguments, unreadable = rids
    # A record whose `arguments` is not a list; a record that is not msgpack at all.
    key = keys.invocation(wf, bad_arguments, "0.1")
    child = decode(Invocation, later.kv.get(key).value)
    assert child.state == "queued"
    child.arguments = 5
    later.kv.put(key, encode(child))
    later.kv.put(keys.invocation(wf, unreadable, "0.1"), b"\xc1 not msgpack")

    worker = start_later_worker(later, {"MR_NOTIFY_WEBHOOK_URLS": listener.url})
    try:
        for rid, error in ((bad_arguments, "TypeError: 'int' object is not iterable"),
                           (unreadable, "FormatError")):
            body = later.wait_ended(wf, rid, timeout=30)
            assert body["state"] == "failed", body
            failure = body["failure"]
            assert failure["reason"] == "engine", failure
            assert failure["invocation"] == "0.1" and failure["attempt"] == ATTEMPTS
            assert failure["message"].startswith("engine error in invocation 0.1: ")
            assert "not an outage" in failure["message"]
            assert failure["traceback"].startswith("Traceback (most recent call last)")
            assert error in failure["traceback"], failure["traceback"]
            record = decode(Invocation, later.kv.get(keys.invocation(wf, rid, "0.1")).value)
            assert record.state == "failed" and record.error == failure["traceback"]
            posted = wait_for(lambda: listener.find("request_failed", request_id=rid),
                              timeout=20, message="request_failed at the listener")
            assert posted["details"]["reason"] == "engine"
            logged = Path(worker.log_path).read_text(errors="replace")
            for delivery in range(1, ATTEMPTS + 1):
                assert (f"engine error in {wf}/{rid} invocation 0.1 at delivery {delivery}"
                        in logged), logged[-3000:]
        assert record.step == UNREADABLE
        # The engine still runs the job when nothing is corrupt.
        reply = later.post(wf, "fan_later", {"children": 3})
        assert reply.status_code == 200, reply.text
        assert reply.json()["result"] == [["total", 0 + 1 + 2]]
    finally:
        worker.stop()
