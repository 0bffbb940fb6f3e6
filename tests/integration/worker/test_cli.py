"""mr_worker refuses to start, with a message saying what to do, when it cannot serve."""
import subprocess
import sys

import pytest

from mr.cluster import free_port


def run_worker(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mr.worker", *args], capture_output=True,
                          text=True, timeout=60, env={"PATH": "/usr/bin:/bin", **env})


@pytest.mark.parametrize("args, code, message", [
    ((), 2, "no workflow to serve: pass --workflow or set MR_WORKFLOW_NAMES"),
    (("--workflow", "missing_wf"), 2,
     "workflow 'missing_wf' does not exist; create it with mr_kv_workflow_create"),
    (("--workflow", "bad.name"), 2, "invalid workflow name 'bad.name'"),
    (("--workflow", "x", "--concurrency", "0"), 2, "--concurrency must be at least 1"),
    (("--workflow", "x", "--data-concurrency", "0"), 2, "--data-concurrency must be at least 1"),
])
def test_refuses_to_start(etcd, args, code, message):
    result = run_worker({"MR_ETCD_HOSTS": etcd.address}, *args)
    assert result.returncode == code
    assert message in result.stderr


def test_etcd_down_is_exit_3_with_advice():
    result = run_worker({"MR_ETCD_HOSTS": f"127.0.0.1:{free_port()}", "MR_ETCD_TIMEOUT_S": "1"},
                        "--workflow", "w")
    assert result.returncode == 3
    assert "did not answer" in result.stderr and "Start etcd or set MR_ETCD_HOSTS" in result.stderr
    assert "?." not in result.stderr


def test_invalid_capability_is_a_clear_error(etcd, kv):
    from mr.kv import entities
    from mr.kv.models import Workflow
    entities.create_workflow(kv, Workflow("cap_check"))
    result = run_worker({"MR_ETCD_HOSTS": etcd.address}, "--workflow", "cap_check",
                        "--capability", "gpu.large")
    assert result.returncode == 2
    assert "invalid capability name 'gpu.large'" in result.stderr


@pytest.mark.parametrize("name, value", [("MR_CONCURRENCY", "abc"),
                                         ("MR_DATA_ISOLATION", "fork"),
                                         ("MR_ETCD_TIMEOUT_S", "soon")])
def test_a_bad_setting_is_one_line_and_exit_2(name, value):
    result = run_worker({name: value}, "--workflow", "w")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: {name}={value!r} is not valid: "), result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
