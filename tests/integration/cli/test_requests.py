"""mr_kv_request_* and the "cleaned up" messages, over requests written with the engine's own
protocol functions (no worker needed)."""
from __future__ import annotations

import time
import uuid

import pytest

from mr.cli import kv_invocation, kv_request, trace
from mr.engine import protocol, request_protocol
from mr.kv import keys
from mr.kv.codec import pack
from mr.kv.models import DONE, Invocation, Request

SCRIPTS = [kv_request.get, kv_request.list_, kv_request.cleanup, kv_invocation.get,
           kv_invocation.list_, trace.graph, trace.flat_list, trace.draw, trace.sessions]


@pytest.mark.parametrize("main", SCRIPTS, ids=lambda m: m.prog)
def test_help(cli, main):
    ran = cli(main, "--help")
    assert ran.code == 0 and ran.out.startswith(f"usage: {main.prog}")


def running_request(kv, wf: str) -> Request:
    """A request with a root that fanned out to two children, one session key, one output."""
    request = Request(wf, uuid.uuid4().hex, "squares", [], deadline=time.time() + 60)
    request_protocol.create_request(kv, request, Invocation("0", "squares"))
    assert protocol.create_children(kv, wf, request.id, [Invocation("0.0", "square"),
                                                         Invocation("0.1", "square")])
    kv.put(keys.session(wf, request.id, "0.0") + "seen", pack(1))
    kv.put(keys.output(wf, request.id, "0", "0.0"), pack([["sum", 1]]))
    return request


def finish(kv, request: Request, cleanup: bool) -> None:
    request.state, request.finished, request.result = DONE, time.time(), [["sum", 1]]
    assert request_protocol.end_request(kv, request, [], cleanup)


def test_cleanup_simulate_then_remove(cli, kv, example_wf):
    request = running_request(kv, example_wf)
    refused = cli(kv_request.cleanup, example_wf, request.id)
    assert refused.code == 2 and "is still running; use --force" in refused.err
    finish(kv, request, cleanup=False)
    sim = cli(kv_request.cleanup, example_wf, request.id, "--simulate-only", "--json")
    assert sim.code == 0
    counts = sim.json()["counts"]
    assert {k: counts.get(k) for k in ("inv", "out", "sess", "request", "live")} == \
        {"inv": 3, "out": 1, "sess": 1, "request": 1, "live": None}
    total = sim.json()["total"]
    assert total == sum(counts.values())
    assert kv.count(keys.request_data(example_wf, request.id)) == total - 1
    human = cli(kv_request.cleanup, example_wf, request.id, "--simulate-only").out
    assert "would remove 3 invocations" in human and "would remove 1 session keys" in human
    done = cli(kv_request.cleanup, example_wf, request.id)
    assert done.code == 0 and f"removed {total} key(s)" in done.out
    assert kv.count(keys.request_data(example_wf, request.id)) == 0
    assert kv.get(keys.request(example_wf, request.id)) is None
    again = cli(kv_request.cleanup, example_wf, request.id)
    assert again.code == 2 and "does not exist" in again.err


def test_cleanup_force_on_running_request(cli, kv, example_wf):
    request = running_request(kv, example_wf)
    assert cli(kv_request.cleanup, example_wf, request.id, "--force").code == 0
    assert kv.count(keys.request_data(example_wf, request.id)) == 0


def test_request_get_and_list(cli, kv, example_wf):
    request = running_request(kv, example_wf)
    got = cli(kv_request.get, example_wf, request.id, "--json").json()
    assert got["state"] == "running" and got["live"] and got["invocations_kept"] == 3
    finish(kv, request, cleanup=True)
    got = cli(kv_request.get, example_wf, request.id)
    assert "state:" in got.out and "done" in got.out and "invocations_kept: 0" in got.out
    listed = cli(kv_request.list_, example_wf, "--json").json()
    assert [r["id"] for r in listed["requests"]] == [request.id]
    assert cli(kv_request.list_, example_wf, "--state", "failed", "--json").json() == \
        {"requests": [], "more": False}
    unknown = cli(kv_request.get, example_wf, "nope")
    assert unknown.code == 2
    assert unknown.err.strip() == (f"error: request 'nope' does not exist in workflow "
                                   f"'{example_wf}'")
    assert cli(kv_request.list_, "no_such_wf").err.strip() == \
        "error: workflow 'no_such_wf' does not exist"


@pytest.mark.parametrize("main", [trace.graph, trace.flat_list, trace.draw, trace.sessions,
                                  kv_invocation.list_])
def test_cleaned_up_request_says_so(cli, kv, example_wf, main):
    request = running_request(kv, example_wf)
    finish(kv, request, cleanup=True)   # what the engine does when MR_CLEANUP is on
    ran = cli(main, example_wf, request.id)
    assert ran.code == 2
    assert ran.err.strip() == (f"error: request {request.id} ended (done) and was cleaned up, "
                               f"and no trace document of it is kept (MR_TRACE_RETENTION_S: 0, "
                               f"or it expired; MR_CLEANUP=0 keeps every record in etcd)")


def test_invocation_get_and_list(cli, kv, example_wf):
    request = running_request(kv, example_wf)
    listed = cli(kv_invocation.list_, example_wf, request.id, "--json").json()
    assert [i["id"] for i in listed] == ["0", "0.0", "0.1"]
    got = cli(kv_invocation.get, example_wf, request.id, "0.1", "--json").json()
    assert got["step"] == "square" and got["state"] == "queued"
    missing = cli(kv_invocation.get, example_wf, request.id, "0.7")
    assert missing.code == 2
    assert f"invocation '0.7' does not exist in request '{request.id}'" in missing.err
    # a running request: the tracing tools show its tree so far
    flat = cli(trace.flat_list, example_wf, request.id).out.splitlines()
    assert flat == ["0 M squares - queued", "  0.0 M square - queued", "  0.1 M square - queued"]


def test_cleanup_entry_point_as_process(run_script, kv, example_wf):
    request = running_request(kv, example_wf)
    finish(kv, request, cleanup=False)
    sim = run_script("mr_kv_request_cleanup", example_wf, request.id, "--simulate-only")
    assert sim.code == 0 and "would remove 3 invocations" in sim.out
    assert kv.get(keys.request(example_wf, request.id)) is not None
    running = run_script("mr_kv_request_cleanup", example_wf, "nope")
    assert running.code == 2 and "request 'nope' does not exist" in running.err
