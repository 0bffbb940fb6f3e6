"""mr_request_status --watch and mr_submit as real processes: a progress bar on a terminal
(a pseudo-terminal here), plain lines when the output is a pipe."""
from __future__ import annotations

import os
import pty
import subprocess

import requests

from tests.support.cluster import unique


def run_in_terminal(argv: list[str], env: dict[str, str], timeout: float = 120) -> str:
    """Run with stdout and stderr on a pseudo-terminal; everything it wrote."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    chunks = []
    try:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        proc.wait(timeout=timeout)
    finally:
        os.close(master)
    return b"".join(chunks).decode(errors="replace")


def slow_request(engine) -> str:
    # named, so retention (2 s here) cannot remove it before the script starts
    posted = requests.post(f"{engine.web.url}/job/{engine.wf}/fan",
                           params={"blocking": "false", "name": unique("watched")},
                           json={"arguments": {"n": 16, "sleep": 0.3}}, timeout=30)
    assert posted.status_code == 202, posted.text
    return posted.json()["request_id"]


def env_of(engine) -> dict[str, str]:
    return {**os.environ, **engine.env, "MR_URL": engine.web.url}


def test_status_watch_draws_a_bar_on_a_terminal(engine):
    rid = slow_request(engine)
    text = run_in_terminal(["mr_request_status", engine.wf, rid, "--watch"], env_of(engine))
    assert "\r[" in text and "% " in text, text
    assert f"request {rid} done after" in text
    assert text.count("\r[") >= 2, text  # redrawn as the request moved


def test_status_watch_prints_lines_into_a_pipe(engine):
    rid = slow_request(engine)
    ran = subprocess.run(["mr_request_status", engine.wf, rid, "--watch"], env=env_of(engine),
                         capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert "\r" not in ran.stdout
    lines = ran.stdout.splitlines()
    # the root, 16 leaves and the root's reduction
    assert lines[-2].startswith("[" + "#" * 30 + "] 100.0% done: 18/18 done |"), ran.stdout
    assert len(lines) == len(set(lines))
    assert lines[-1].startswith(f"request {rid} done after")


def test_submit_shows_a_bar_and_a_summary(engine, tmp_path):
    parts = tmp_path / "parts.jsonl"
    parts.write_text("".join(f'{{"n": {n}}}\n' for n in range(1, 7)) + '{"n": "x"}\n')
    text = run_in_terminal(["mr_submit", engine.wf, "fan", "--file", str(parts),
                            "--concurrency", "3"], env_of(engine))
    assert "\r[" in text and "6 done, 1 failed of 7" in text, text
    assert "6 done, 1 failed, 7 submitted" in text
    assert "line 7: HTTP 422" in text or "line 7: HTTP 500" in text, text
    piped = subprocess.run(["mr_submit", engine.wf, "fan", "--file", str(parts)],
                           env=env_of(engine), capture_output=True, text=True, timeout=120)
    assert piped.returncode == 1 and "\r" not in piped.stderr
    assert "6 done, 1 failed of 7" in piped.stderr.strip().splitlines()[-1]
    assert "6 done, 1 failed, 7 submitted" in piped.stdout
