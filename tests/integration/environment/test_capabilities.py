"""Capabilities end to end: work needing `gpu` runs only on the worker offering it; a request
needing a capability nobody offers is refused at once with 503; workers are listed."""
from mr.cli.worker_list import main as worker_list
from mr.engine.registry import live_workers
from mr.kv import keys
from mr.kv.codec import unpack


def gpu_worker(engine) -> str:
    (found,) = [w["id"] for w in live_workers(engine.kv)
                if engine.wf in w["workflows"] and "gpu" in w["capabilities"]]
    return found


def test_gpu_work_runs_only_on_the_gpu_worker(traced):
    reply = traced.post(traced.wf, "gpu", {"n": 12})
    assert reply.status_code == 200, reply.text
    assert reply.json()["result"] == [["value", sum(range(12))]]
    records = [unpack(e.value) for e in traced.kv.scan(
        keys.invocations(traced.wf, reply.json()["request_id"]))]
    assert len(records) == 1 + 12 + 1   # root, leaves, the root's reduction
    assert {r["worker"] for r in records} == {gpu_worker(traced)}


def test_capability_nobody_offers_is_503_at_once(traced):
    reply = traced.post(traced.wf, "quantum", {})
    assert reply.status_code == 503
    assert reply.json()["error"] == (
        f"no live worker offers capability 'quantum' for workflow {traced.wf!r} (needed by "
        f"handler quantum of step quantum); start one with mr_worker --workflow {traced.wf} "
        f"--capability quantum")
    assert "request_id" not in reply.json()   # nothing was recorded


def test_worker_list_shows_who_offers_what(traced, monkeypatch, capsys):
    monkeypatch.setenv("MR_ETCD_HOSTS", traced.etcd_address)
    assert worker_list(["--workflow", traced.wf, "--capability", "gpu", "--json"]) == 0
    (worker,) = __import__("json").loads(capsys.readouterr().out)
    assert worker["id"] == gpu_worker(traced)
    assert worker["capabilities"] == ["general", "gpu"] and worker["concurrency"] == 4
    assert worker["version"] and worker["pid"] == traced.workers[1].pid
    assert worker_list(["--workflow", traced.wf]) == 0
    table = capsys.readouterr().out
    assert table.startswith("ID") and len(table.strip().splitlines()) == 3
