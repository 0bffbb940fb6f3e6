"""Fixtures for the admin and tracing scripts: run a script's main(argv) in-process against the
session's real etcd or as real processes, a fresh workflow holding the example handlers, steps
and jobs, and a whole cluster that ran one nested request which failed (for the tracing tools)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass

import pytest

from mr import examples
from mr.cli.kv_handler import read_handler
from mr.kv import entities
from mr.kv.models import Job, Step
from tests.support.cluster import REPO, start_cluster, unique

HERE = REPO / "tests" / "integration" / "cli"


@dataclass
class Ran:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


@pytest.fixture
def cli(etcd, monkeypatch, capsys):
    """cli(main, *argv) -> Ran(code, out, err), with MR_ETCD_HOSTS pointing at the test etcd."""
    monkeypatch.setenv("MR_ETCD_HOSTS", etcd.address)

    def call(main, *argv: str) -> Ran:
        capsys.readouterr()
        code = main(list(argv))
        out, err = capsys.readouterr()
        return Ran(code, out, err)
    return call


@pytest.fixture
def run_script(etcd):
    """Run an installed console script as a real process (proves the entry point works)."""
    def call(*argv: str, env: dict[str, str] | None = None) -> Ran:
        if shutil.which(argv[0]) is None:
            pytest.fail(f"{argv[0]} is not on PATH: run `pip install -e .` to install the "
                        f"console scripts")
        # PYTHONFAULTHANDLER: a script that hangs is sent SIGABRT, which makes it print every
        # thread's stack, and the failure shows where it was stuck
        env = {**os.environ, "MR_ETCD_HOSTS": etcd.address, "PYTHONFAULTHANDLER": "1",
               **(env or {})}
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)
            out, err = proc.communicate(timeout=30)
            pytest.fail(f"{' '.join(argv)} still ran after 60 s; its threads:\n{err[-6000:]}")
        return Ran(proc.returncode, out, err)
    return call


@pytest.fixture
def example_wf(kv):
    """A new workflow with the shipped example handlers, steps and jobs."""
    name = unique("cli")
    examples.define(kv, REPO / "handlers", workflow=name)
    return name



NESTED_FAILED_ID = "0.1.1"  # middle 1's leaf 1 (value 11) raises; see nest_leaf_or_fail.py


@pytest.fixture(scope="package")
def nested_failed(etcd, tmp_path_factory):
    """A real cluster (MR_CLEANUP=0) that ran one nested request — root fans out to middle
    mappers, each maps again to leaves — in which invocation NESTED_FAILED_ID failed.
    Yields (engine, workflow, request_id); the workflow also holds the example definitions.
    Package scope: the subprocess and drawing tests share one cluster start."""
    wf = unique("nest")
    engine = start_cluster(tmp_path_factory.mktemp("nested"), etcd.address, [wf],
                           extra_env={"MR_CLEANUP": "0"})
    try:
        kv = engine.kv
        examples.define(kv, REPO / "handlers", workflow=wf)
        for path in (REPO / "tests" / "handlers" / "nest_root.py",
                     REPO / "tests" / "handlers" / "nest_middle.py",
                     REPO / "tests" / "handlers" / "sum_values.py",
                     HERE / "handlers" / "nest_leaf_or_fail.py"):
            entities.save(kv, read_handler(wf, path))
        for step in (Step(wf, "nest_root", "nest_root", "sum_values"),
                     Step(wf, "middle", "nest_middle", "sum_values"),
                     Step(wf, "leaf", "nest_leaf_or_fail", "sum_values")):
            entities.save(kv, step)
        entities.save(kv, Job(wf, "nested", "nest_root"))
        engine.start_workers(2)
        engine.start_web()
        failed = engine.post(wf, "nested", {"n": 3})
        assert failed.status_code == 500, failed.text
        yield engine, wf, failed.json()["request_id"]
    finally:
        engine.stop()
