"""Every admin and tracing script run as an installed console script (a real process) against
the real etcd: one table of (argv, exit code, text expected in stdout or stderr), with at least
one good and one bad input per script.

The definitions live in the nested-request cluster's workflow (fixture `nested_failed`); each
destructive case works on a spare entity made for it, so the cases do not depend on order.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
from importlib import metadata
from typing import NamedTuple

import pytest

from mr.cli.kv_handler import read_handler
from mr.engine import control, request_protocol
from mr.kv import entities, keys
from mr.kv.models import Invocation, Job, Request, Step, Workflow
from tests.integration.cli.conftest import HERE, NESTED_FAILED_ID
from tests.support.cluster import REPO, unique
from tests.support.lost_reply import losing_replies


class Case(NamedTuple):
    argv: tuple[str, ...]   # "{wf}", "{rid}", ... are filled in from the `world` fixture
    code: int
    expect: str             # a substring of stdout + stderr (formatted like argv)


def case(line: str, code: int, expect: str, *extra: str) -> Case:
    """`line` is split on spaces; `extra` arguments may hold spaces or be empty."""
    return Case((*line.split(), *extra), code, expect)


NO_WF = "workflow 'no_such_wf' does not exist"
CASES = [
    case("mr_kv_workflow_create {new_wf} made-by-a-process", 0, "created workflow {new_wf}"),
    case("mr_kv_workflow_create no/slash", 2, "invalid workflow name"),
    case("mr_kv_workflow_get {wf}", 0, "contents:"),
    case("mr_kv_workflow_get no_such_wf", 2, NO_WF),
    case("mr_kv_workflow_list", 0, "{wf}"),
    case("mr_kv_workflow_list --bogus", 2, "unrecognized arguments: --bogus"),
    case("mr_kv_workflow_delete {spare_wf}", 0, "deleted workflow {spare_wf}"),
    case("mr_kv_workflow_delete {wf}", 2, "use --force"),

    case("mr_kv_dump /mr/workflow/{wf}", 0, '"key": "/mr/workflow/{wf}"'),
    case("mr_kv_dump --prefix /mr/w/{wf}/def/job/ --limit 1 --json", 0, '"initial_step"'),
    case("mr_kv_dump /mr/workflow/no_such_wf", 2, "no key '/mr/workflow/no_such_wf'"),

    case("mr_kv_job_create {wf} made_job squares --timeout 30", 0, "created job made_job"),
    case("mr_kv_job_create {wf} bad_job squares --timeout -1", 2,
         "--timeout must be a positive number"),
    case("mr_kv_job_create {wf} files_job squares --input books/*.txt --split-mb 32", 0,
         "created job files_job"),
    case("mr_kv_job_create {wf} files_bad squares --input books/*.txt --split-mb 0", 2,
         "--split-mb must be a positive number"),
    case("mr_kv_job_get {wf} squares", 0, "initial_step:"),
    case("mr_kv_job_get {wf} ghost", 2, "job 'ghost' does not exist"),
    case("mr_kv_job_list {wf}", 0, "nested"),
    case("mr_kv_job_list no_such_wf", 2, NO_WF),
    case("mr_kv_job_delete {wf} spare_job", 0, "deleted job spare_job"),
    case("mr_kv_job_delete {wf} ghost", 2, "job 'ghost' does not exist"),

    case("mr_kv_step_create {wf} made_step numbers_square", 0, "created step made_step", "",
         "numbers_total"),
    case("mr_kv_step_create {wf} bad_step numbers_total", 2,
         "'numbers_total' is a reducer, not a mapper", "",
         "numbers_total"),
    case("mr_kv_step_create {wf} parted numbers_square", 0, "created step parted", "",
         "numbers_total", "--partitions", "2"),
    case("mr_kv_step_create {wf} parted_bad numbers_square", 2, "--partitions must be at least 1",
         "", "numbers_total", "--partitions", "0"),
    case("mr_kv_step_get {wf} square", 0, "numbers_square"),
    case("mr_kv_step_get {wf} ghost", 2, "step 'ghost' does not exist"),
    case("mr_kv_step_list {wf} --json", 0, '"name": "middle"'),
    case("mr_kv_step_list no_such_wf", 2, NO_WF),
    case("mr_kv_step_delete {wf} spare_step", 0, "deleted step spare_step"),
    case("mr_kv_step_delete {wf} squares", 2, "step 'squares' is used by job"),
    case("mr_kv_step_delete {wf} square", 2,
         "step 'square' is used by handler numbers_fan_out (MapTo(\"square\"))"),
    case("mr_kv_step_set_handler {wf} tweak_step -r sum_values", 0,
         "tweak_step: reducer numbers_total -> sum_values"),
    case("mr_kv_step_set_handler {wf} tweak_step", 2, "give at least one of"),
    case("mr_kv_step_update_handlers {wf} reducer numbers_total sum_values -s", 0,
         "would update step square"),
    case("mr_kv_step_update_handlers {wf} reducer numbers_total ghost", 2,
         "handler 'ghost' does not exist"),

    case("mr_kv_handler_create {wf} {handler_file} --name made_handler", 0,
         "created mapper made_handler"),
    case("mr_kv_handler_create {wf} {tmp}/none.py", 2, "{tmp}/none.py: no such file"),
    case("mr_kv_handler_get {wf} numbers_square", 0, "handler_type:"),
    case("mr_kv_handler_get {wf} ghost", 2, "handler 'ghost' does not exist"),
    case("mr_kv_handler_list {wf}", 0, "nest_leaf_or_fail"),
    case("mr_kv_handler_list no_such_wf", 2, NO_WF),
    case("mr_kv_handler_delete {wf} spare_handler", 0, "deleted handler spare_handler"),
    case("mr_kv_handler_delete {wf} numbers_total", 2,
         "handler 'numbers_total' is used by step"),
    case("mr_kv_handler_store {store_wf} {handlers_dir}", 0, "add numbers_square"),
    case("mr_kv_handler_store {store_wf} {tmp}/no_dir", 2,
         "{tmp}/no_dir: not a directory (nothing was written)"),

    case("mr_kv_request_get {wf} {rid}", 0, "LookupError: leaf 11 is not allowed"),
    case("mr_kv_request_get {wf} nope", 2, "request 'nope' does not exist"),
    case("mr_kv_request_list {wf} --state failed", 0, "{rid}"),
    case("mr_kv_request_list {wf} --state bogus", 2, "invalid choice: 'bogus'"),
    case("mr_kv_request_cleanup {wf} {rid} --simulate-only", 0, "(simulated: nothing written)"),
    case("mr_kv_request_cleanup {wf} nope", 2, "nothing to clean up"),
    case("mr_kv_invocation_get {wf} {rid} {failed}", 0, "Traceback"),
    case("mr_kv_invocation_get {wf} {rid} 9.9", 2, "invocation '9.9' does not exist"),
    case("mr_kv_invocation_list {wf} {rid} --state failed", 0, "{failed}"),
    case("mr_kv_invocation_list {wf} nope", 2, "request 'nope' does not exist"),

    case("mr_get_invocation_graph {wf} {rid}", 0, "*** FAILED ***"),
    case("mr_get_invocation_graph {wf} nope", 2, "request 'nope' does not exist"),
    case("mr_get_invocation_flat_list {wf} {rid}", 0, "<-- FAILED: LookupError"),
    case("mr_get_invocation_flat_list no_such_wf x", 2, NO_WF),
    case("mr_draw_invocation_graph {wf} {rid}", 0, 'class="failed"'),
    case("mr_draw_invocation_graph {wf} {rid} --png {tmp}/no_dir/x.png", 2, "dot failed"),
    case("mr_get_request_sessions {wf} {rid}", 0, "[seen]: 1"),
    case("mr_get_request_sessions {wf}", 2, "the following arguments are required: request_id"),

    case("mr_request_status {wf} {rid}", 0, "invocations done)"),
    case("mr_request_status {wf} nope", 2, "request 'nope' not found"),
    case("mr_request_retry {wf} {spare_rid} --nsqd-http-address {broker}", 0, "is running again"),
    case("mr_request_retry {wf} nope", 2, "request 'nope' not found"),
    case("mr_request_cancel {wf} {stuck_rid} --reason", 0, "cancelled", "no longer needed"),
    case("mr_request_pause {wf} {pausable_rid}", 0, "is paused"),
    case("mr_request_pause {wf} {done_rid}", 2, "only a running request can be paused"),
    case("mr_request_resume {wf} {paused_rid} --nsqd-http-address {broker}", 0, "goes on"),
    case("mr_request_resume {wf} {done_rid}", 2, "only a paused request can be resumed"),
    case("mr_request_cancel {wf} {rid}", 2, "only a running request can be cancelled"),
    case("mr_request_result {wf} {done_rid} --limit 1", 0, '["sum", 5]'),
    case("mr_request_result {wf} {rid}", 2, "only a done request has a result"),
    case("mr_request_rerun {wf} {done_rid} 0 --nsqd-http-address {broker}", 0,
         "is running again: the subtrees of 0"),
    case("mr_request_rerun {wf} {rid} 0.9", 2, "invocation '0.9' does not exist"),
    case("mr_request_stats {wf}", 0, "requests by state:"),
    case("mr_request_stats no_such_wf", 2, NO_WF),
    case("mr_request_stats", 0, "{wf}"),
    case("mr_request_stats {wf} --watch 0", 2, "--watch takes a positive number of seconds"),
    case("mr_submit {wf} squares --file {parts} --url {url}", 0, "2 done, 0 failed"),
    case("mr_submit {wf} squares --file {tmp}/missing.jsonl --url {url}", 2, "cannot read"),
    case("mr_submit {wf} squares --file {parts} --url {url} --json", 0,
         '{{"done": 2, "failed": 0, "submitted": 2, "failures": []}}'),
    case("mr_submit {wf} squares --file {tmp}/missing.jsonl --url {url} --json", 2,
         '{{"error": "cannot read'),
    case("mr_kv_job_get {wf} ghost --json", 2, '{{"error": "job \'ghost\' does not exist'),

    case("mr_worker_list --workflow {wf} --capability general", 0, "{wf}"),
    case("mr_worker_list --workflow no_such_wf", 2, NO_WF),

    case("mr_http_notification_listen --help", 0, "--count N"),
    case("mr_http_notification_listen --port 99999", 2, "--port must be 0-65535"),

    case("mr_lookupd --version", 0, "mr_lookupd v"),
    case("mr_lookupd --inactive-producer-timeout=soon", 2, "invalid duration 'soon'"),
]


@pytest.fixture(scope="module")
def world(nested_failed, tmp_path_factory) -> dict[str, str]:
    """The names the table refers to, with the spare entities its destructive cases consume."""
    engine, wf, rid = nested_failed
    kv = engine.kv
    spare_wf, store_wf = unique("spare"), unique("store")
    for name in (spare_wf, store_wf):
        entities.create_workflow(kv, Workflow(name))
    handler_file = HERE / "handlers" / "square_or_fail.py"
    entities.save(kv, read_handler(wf, handler_file, "spare_handler"))
    entities.save(kv, Job(wf, "spare_job", "squares"))
    for name in ("spare_step", "tweak_step"):
        entities.save(kv, Step(wf, name, "numbers_square", "numbers_total"))
    spare = engine.post(wf, "nested", {"n": 3})  # fails like the first: retried by a case
    assert spare.status_code == 500, spare.text
    done = engine.post(wf, "squares", {"n": 3})   # 0 + 1 + 4: ["sum", 5]
    assert done.status_code == 200, done.text
    tmp = tmp_path_factory.mktemp("cli")
    (tmp / "parts.jsonl").write_text('{"n": 3}\n{"arguments": {"n": 4}}\n')
    return {"wf": wf, "rid": rid, "failed": NESTED_FAILED_ID, "new_wf": unique("made"),
            "spare_rid": spare.json()["request_id"], "done_rid": done.json()["request_id"],
            "stuck_rid": stuck_request(kv, wf), "pausable_rid": stuck_request(kv, wf),
            "paused_rid": paused_request(kv, wf),
            "parts": str(tmp / "parts.jsonl"), "url": engine.web.url,
            "broker": engine.broker.http_address,
            "spare_wf": spare_wf, "store_wf": store_wf, "handler_file": str(handler_file),
            "handlers_dir": str(REPO / "handlers"), "tmp": str(tmp)}


def paused_request(kv, wf: str) -> str:
    """A running request, paused: it waits to be resumed."""
    rid = stuck_request(kv, wf)
    control.pause(kv, wf, rid)
    return rid


def stuck_request(kv, wf: str) -> str:
    """A running request whose message was never published: it waits to be cancelled."""
    request = Request(workflow=wf, id=unique("stuck"), job="squares", arguments=[["n", 3]])
    request_protocol.create_request(kv, request, Invocation(id="0", step="squares",
                                                            arguments=request.arguments))
    return request.id


@pytest.mark.parametrize("spec", CASES, ids=lambda c: " ".join(c.argv)[:60])
def test_script(run_script, world, spec: Case):
    ran = run_script(*(arg.format(**world) for arg in spec.argv))
    shown = f"exit {ran.code}\nstdout:\n{ran.out}\nstderr:\n{ran.err}"
    assert ran.code == spec.code, shown
    assert spec.expect.format(**world) in ran.out + ran.err, shown
    assert "Traceback" not in ran.err


LOST_REPLY_CASES = [   # (script, the key whose commit loses its reply, what it says it did)
    ("mr_request_pause", keys.paused, "is paused"),
    ("mr_request_resume", keys.request, "goes on"),
    ("mr_request_cancel", keys.request, "cancelled"),
    ("mr_request_retry", keys.request, "is running again"),
]


@pytest.mark.parametrize("script,key,expect", LOST_REPLY_CASES,
                         ids=[script for script, _, _ in LOST_REPLY_CASES])
def test_a_control_whose_reply_was_lost_did_its_work(run_script, world, nested_failed, script,
                                                    key, expect):
    """etcd stops just after committing it: the client's retry meets the control's own write,
    which must read as done (not "changed meanwhile, try again": trying again would then
    refuse, and a resumed or retried request would wait MR_STALL_S for its messages)."""
    kv, wf = nested_failed[0].kv, world["wf"]
    rid = stuck_request(kv, wf)
    if script == "mr_request_resume":
        control.pause(kv, wf, rid)
    if script == "mr_request_retry":
        assert run_script("mr_request_cancel", wf, rid).code == 0
    publishes = script in ("mr_request_resume", "mr_request_retry")
    ran = run_script(script, wf, rid,
                     *(["--nsqd-http-address", world["broker"]] if publishes else []),
                     env=losing_replies(key(wf, rid)))
    shown = f"exit {ran.code}\nstdout:\n{ran.out}\nstderr:\n{ran.err}"
    assert "is lost" in ran.out, shown   # the reply to its commit was lost indeed
    assert ran.code == 0 and expect in ran.out + ran.err, shown


def test_a_workflow_whose_creating_reply_was_lost_is_created(run_script):
    name = unique("lost")
    ran = run_script("mr_kv_workflow_create", name, env=losing_replies(keys.workflow(name)))
    assert "is lost" in ran.out and ran.code == 0, ran
    assert f"created workflow {name}" in ran.out, ran


def test_a_reader_that_goes_away_ends_a_script_quietly(etcd, world):
    """`mr_kv_job_list wf | head -0`: exit as SIGPIPE would (141), no traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(["mr_kv_job_list", world["wf"]], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=60,
                              env={**os.environ, "MR_ETCD_HOSTS": etcd.address})
    finally:
        os.close(write_end)
    assert done.returncode == 141 and done.stderr == "", done.stderr


def test_stats_watch_repeats_until_ctrl_c(etcd, world):
    """Even started as a shell starts a background job, with SIGINT ignored."""
    watch = subprocess.Popen(["bash", "-c", 'trap "" INT; exec "$@"', "bash", "mr_request_stats",
                              world["wf"], "--watch", "0.2", "--json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "MR_ETCD_HOSTS": etcd.address})
    try:
        lines = [json.loads(watch.stdout.readline()) for _ in range(2)]
        assert all("requests" in line for line in lines)
        watch.send_signal(signal.SIGINT)
        _, errors = watch.communicate(timeout=30)
    finally:
        watch.kill()
    assert watch.returncode == 130 and "Traceback" not in errors, errors


def admin_scripts() -> set[str]:
    """The installed admin and tracing console scripts (setup.py, issues 5 and 6)."""
    names = {ep.name for ep in metadata.distribution("mr").entry_points
             if ep.group == "console_scripts"}
    return {n for n in names if n.startswith(("mr_kv_", "mr_get_", "mr_draw_", "mr_request_"))
            or n in ("mr_worker_list", "mr_submit", "mr_http_notification_listen", "mr_lookupd")}


def test_every_script_has_a_good_and_a_bad_case():
    scripts = admin_scripts()
    assert len(scripts) == 41
    for expected in (0, 2):
        covered = {c.argv[0] for c in CASES if c.code == expected}
        assert scripts <= covered, f"no exit-{expected} case: {sorted(scripts - covered)}"


def test_readme_operating_table_has_every_script_with_an_example():
    readme = (REPO / "README.rst").read_text()
    section = readme[readme.index("Operating\n---------\n"):readme.index("The broker (``")]
    rows = section.split("   * - ")[2:]   # after the table's directive and header row
    documented = {}
    for row in rows:
        name, what, example = (cell.strip() for cell in row.split("\n     - "))
        documented[name.strip("`")] = (what, example)
    assert set(documented) == admin_scripts()
    for name, (what, example) in documented.items():
        assert what and example.startswith(f"``{name} "), name


def _pynsq_suite(*args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "MR_PYNSQ_SRC"}
    return subprocess.run([str(REPO / "scripts" / "pynsq_suite"), *args], capture_output=True,
                          text=True, timeout=120, env={**environ, **env})


def test_pynsq_suite_script_help_and_where_it_gets_pynsqs_tests(tmp_path):
    """scripts/pynsq_suite: --help says where pynsq's tests come from; without them, exit 2
    with the command that gets them (running the suite: tests/broker/test_pynsq_suite.py)."""
    shown = _pynsq_suite("--help")
    assert shown.returncode == 0, shown.stderr
    assert "MR_PYNSQ_SRC" in shown.stdout and "git clone -b v0.9.1" in shown.stdout
    for args, env in (((), {}), (("--source", str(tmp_path)), {}),
                      ((), {"MR_PYNSQ_SRC": str(tmp_path)})):
        refused = _pynsq_suite(*args, **env)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "git clone -b v0.9.1 https://github.com/nsqio/pynsq" in refused.stderr
        assert "Traceback" not in refused.stderr
