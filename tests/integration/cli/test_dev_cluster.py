"""The README's main job and its shell examples, on one dev cluster (its fixed ports):
`mr_dev_cluster run-example` counts the licence texts as a text job and as a data job over
the files and checks both against an in-process count; every shell block of README.rst runs
as written, unless the README marks it as not run here and says why; `stop` ends every
process the cluster started."""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
from pathlib import Path

import pytest
import requests

from mr.cli import dev_cluster
from tests.support.cluster import REPO
from tests.support.readme import Block, shell_blocks

PORTS = (dev_cluster.ETCD_PORT, dev_cluster.BROKER_TCP, dev_cluster.BROKER_HTTP,
         dev_cluster.HTTP_PORT)
PLACEHOLDER = re.compile(r"<([a-z_]+)>")
# The input files the README's data-job example names, put where it reads them.
INPUTS = {"books/one.txt": "the cat and the hat\n", "books/two.txt": "a cat\n",
          "other/three.txt": "the end\n"}


def in_use(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def dev(tmp_path_factory):
    busy = [port for port in PORTS if in_use(port)]
    if busy:
        pytest.skip(f"the dev cluster's fixed ports {busy} are taken on this host")
    env = {**os.environ, "MR_DEV_DIR": str(tmp_path_factory.mktemp("dev"))}
    try:
        started = subprocess.run(["mr_dev_cluster", "start"], env=env, capture_output=True,
                                 text=True, timeout=300)
        assert started.returncode == 0, started.stdout + started.stderr
        yield env
    finally:
        subprocess.run(["mr_dev_cluster", "stop"], env=env, capture_output=True, timeout=120)


def test_run_example_counts_the_text_and_the_files(dev):
    ran = subprocess.run(["mr_dev_cluster", "run-example", "--top", "3"], env=dev,
                         capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "matches an in-process count of the same text" in ran.stdout
    assert "as a data job" in ran.stdout and "matches too" in ran.stdout


def test_every_readme_shell_block_runs_as_written(dev):
    shared = Path(dev["MR_DEV_DIR"]) / "data" / "shared" / "examples"
    for name, text in INPUTS.items():
        (shared / name).parent.mkdir(parents=True, exist_ok=True)
        (shared / name).write_text(text)
    blocks = shell_blocks(REPO / "README.rst")
    assert len(blocks) > 5
    ran = [block for block in blocks if block.not_run is None]
    assert ran, "no README block is run"
    for block in ran:
        run_block(block, dev)
    # the map-only example kept its input's order, and the job after it read its result
    tokens = requests.get(f"http://127.0.0.1:{dev_cluster.HTTP_PORT}/request/examples/"
                          f"books-tokens", timeout=30).json()
    assert tokens.get("result") == [["books/one.txt", ["the", "cat", "and", "the", "hat"]],
                                ["books/two.txt", ["a", "cat"]]], tokens


def run_block(block: Block, env: dict) -> None:
    """Each command in turn; a `<name>` is the `name` of the last JSON reply. A command
    fails the block when it exits non-zero or replies with a JSON error."""
    last: dict = {}
    for command in block.commands:
        assert not command.rstrip().endswith("&"), (
            f"README.rst:{block.line}: {command!r} starts a background process; mark the "
            f"block '.. README test: not run (why)'")
        command = PLACEHOLDER.sub(lambda m: str(last[m.group(1)]), command)
        done = subprocess.run(["bash", "-c", command], env=env, cwd=REPO, capture_output=True,
                              text=True, timeout=180)
        where = f"README.rst:{block.line}: {command}\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        assert done.returncode == 0, where
        try:
            reply = json.loads(done.stdout)
        except ValueError:
            continue
        if isinstance(reply, dict):
            assert "error" not in reply, where
            last = reply


def test_readme_shell_blocks_are_found_and_the_marks_say_why():
    blocks = shell_blocks(REPO / "README.rst")
    commands = [c for block in blocks for c in block.commands]
    assert any(c.startswith("curl -s localhost:8080/job/examples/squares") for c in commands)
    # a block inside a list item, indented deeper than the item's text, is found too
    assert any(c.startswith("mr_kv_step_create examples tokenize ") for c in commands)
    assert all(block.not_run.strip() for block in blocks if block.not_run is not None)


def test_stop_ends_every_process(dev):
    stopped = subprocess.run(["mr_dev_cluster", "stop"], env=dev, capture_output=True,
                             text=True, timeout=120)
    assert stopped.returncode == 0, stopped.stderr
    assert not any(in_use(port) for port in PORTS)
