"""Two clusters of real processes for the handler-environment tests.

`traced`: MR_CLEANUP=0 (records stay for inspection), a scope factory stored with the
workflow, worker 1 offering `general` and worker 2 `general` and `gpu`; it also serves a
workflow of the shipped example handlers (the Perl word splitter).

`cleaned`: MR_CLEANUP=1, a small blob threshold (2 KiB), the file writer into the shared
filesystem, every notification event sent to a local SMTP server (aiosmtpd, in this process)
and to `mr_http_notification_listen` (a process).
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from mr import examples
from mr.cluster import free_port, wait_for
from mr.kv import entities
from mr.kv.models import Job, Step, Workflow
from tests.support.cluster import REPO, start_cluster, unique

HERE = Path(__file__).resolve().parent
HANDLERS = HERE / "handlers"
SHARED = ("total", "pass_through")  # from tests/support/handlers/
SCOPE_FACTORY = "tests.integration.environment.scopes:by_handler"

STEPS = [("sess", "session_mapper", "session_reducer"),
         ("sess_write", "session_mapper", "session_writer"),
         ("scoped", "scoped_mapper", "scoped_reducer"),
         ("gpu_fan", "gpu_fan", "gpu_total"), ("gpu_leaf", "gpu_leaf", "gpu_total"),
         ("quantum", "quantum", "total"),
         ("sh_fan", "sh_fan", "total"), ("sh_leaf", "sh_leaf", "total"),
         ("sh_fail", "sh_fail", "total"),
         ("slow_py", "slow_py", "total"), ("slow_sh", "slow_sh", "total"),
         ("fs_fan", "fs_fan", "fs_reader"), ("fs_leaf", "fs_leaf", "pass_through"),
         ("big_fan", "big_fan", "big_reader"), ("big_leaf", "big_leaf", "pass_through"),
         ("escape", "escape", "total"), ("notifying", "notifying", "total"),
         ("sleepy", "sleepy", "total")]
JOBS = {"sess": "sess", "sess_write": "sess_write", "scoped": "scoped", "gpu": "gpu_fan",
        "quantum": "quantum", "sh_fan": "sh_fan", "sh_fail": "sh_fail", "slow_py": "slow_py",
        "slow_sh": "slow_sh", "fs": "fs_fan", "big": "big_fan", "big_echo": "big_leaf",
        "escape": "escape", "notifying": "notifying", "sleepy": "sleepy"}


def define(engine, wf: str) -> None:
    """Sync the test handlers into `wf` and define its steps and jobs."""
    synced = engine.sync(wf, HANDLERS, shared=SHARED)
    assert synced.returncode == 0, synced.stderr
    for name, mapper, reducer in STEPS:
        entities.save(engine.kv, Step(wf, name, mapper, reducer))
    for name, step in JOBS.items():
        entities.save(engine.kv, Job(wf, name, step))
    entities.save(engine.kv, Job(wf, "sess_file", "sess", result_writer="file"))
    entities.save(engine.kv, Job(wf, "sleepy_1s", "sleepy", timeout_s=1))


@pytest.fixture(scope="package")
def traced(etcd, tmp_path_factory):
    wf, ex = unique("envt"), unique("envx")
    engine = start_cluster(tmp_path_factory.mktemp("traced"), etcd.address, [wf, ex],
                           extra_env={"MR_CLEANUP": "0", "PYTHONPATH": str(REPO)})
    try:
        entities.create_workflow(engine.kv, Workflow(wf, "environment tests",
                                                     scope_factory=SCOPE_FACTORY))
        define(engine, wf)
        examples.define(engine.kv, REPO / "handlers", workflow=ex)
        entities.save(engine.kv, Step(ex, "count_perl", "wordcount_split_words",
                                      "wordcount_sum_reducer",
                                      combiner="wordcount_sum_combiner"))
        entities.save(engine.kv, Job(ex, "wordcount_perl", "count_perl"))
        engine.start_workers(1)
        engine.start_workers(1, "--capability", "general", "--capability", "gpu")
        engine.start_web()
        engine.wf, engine.ex = wf, ex
        yield engine
    finally:
        engine.stop()


@dataclass
class Mailbox:
    """What the test's SMTP server received."""
    messages: list = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append({"from": envelope.mail_from, "to": envelope.rcpt_tos,
                              "text": envelope.content.decode("utf-8", errors="replace")})
        return "250 OK"


@pytest.fixture(scope="package")
def smtp():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    mailbox.port = controller.port
    yield mailbox
    controller.stop()


@dataclass
class Listener:
    """mr_http_notification_listen as a process; `received` holds what it printed."""
    proc: subprocess.Popen
    url: str = ""
    received: list = field(default_factory=list)

    def read(self) -> None:
        for line in self.proc.stdout:
            if line.startswith("listening on "):
                self.url = line.split()[-1]
            elif line.strip():
                self.received.append(json.loads(line))

    def find(self, event: str, **details) -> dict | None:
        for message in list(self.received):
            if message["event"] == event and all(message["details"].get(k) == v
                                                 for k, v in details.items()):
                return message
        return None


@pytest.fixture(scope="package")
def listener():
    proc = subprocess.Popen([sys.executable, "-c", "from mr.cli.notification_listen import "
                             "console; console()", "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    found = Listener(proc)
    threading.Thread(target=found.read, daemon=True).start()
    wait_for(lambda: found.url, timeout=20, message="mr_http_notification_listen", process=proc)
    yield found
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="package")
def cleaned(etcd, tmp_path_factory, smtp, listener):
    wf = unique("envc")
    engine = start_cluster(tmp_path_factory.mktemp("cleaned"), etcd.address, [wf], extra_env={
        "MR_CLEANUP": "1", "MR_BLOB_THRESHOLD_BYTES": "2048", "MR_RESULT_DIR": "",
        "MR_SMTP_HOST": "127.0.0.1", "MR_SMTP_PORT": str(smtp.port),
        "MR_NOTIFY_EMAIL_TO": "ops@example.test", "MR_NOTIFY_WEBHOOK_URLS": listener.url,
        "MR_NOTIFY_EVENTS": "handler_exception,request_failed,request_done,library_updated,"
                            "custom"})
    try:
        entities.create_workflow(engine.kv, Workflow(wf, "environment tests, cleaned up"))
        define(engine, wf)
        engine.start_workers(2)
        engine.start_web()
        engine.wf = wf
        engine.shared = Path(engine.env["MR_DATA_DIR"]) / "shared" / wf
        yield engine
    finally:
        engine.stop()
