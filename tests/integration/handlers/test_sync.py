"""mr_kv_handler_store against a real etcd: add, change, unchanged, orphans, broken files."""
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from mr.kv import entities
from mr.kv.models import Handler, Step, Workflow

MAPPER = '''"""A mapper.

**
handler_type: mapper
required_capability: general
argument_spec:
  - {name: arguments, type: list}
"""
from mr.handlers.api import Return


def handle(ctx, arguments):
    yield Return()
    yield "k", VALUE
'''
REDUCER = '''"""A reducer.

**
handler_type: reducer
required_capability: general
argument_spec:
  - {name: results, type: list}
"""


def handle(ctx, results):
    yield from ((k, sum(v)) for k, v in results)
'''


@pytest.fixture
def workflow(kv):
    name = f"sync_{uuid.uuid4().hex[:8]}"
    entities.create_workflow(kv, Workflow(name))
    return name


def store(etcd, workflow: str, directory: Path, *flags: str) -> subprocess.CompletedProcess:
    """Run the real script, as an operator would."""
    return subprocess.run([sys.executable, "-m", "mr.cli.handler_store", workflow,
                           str(directory), *flags], capture_output=True, text=True, timeout=60,
                          env={"MR_ETCD_HOSTS": etcd.address, "PATH": "/usr/bin:/bin"})


def write(directory: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return directory


def stored(kv, workflow: str) -> dict[str, str]:
    return {h.name: h.version for h in entities.list_all(kv, Handler, workflow)}


def test_add_then_unchanged_then_changed(etcd, kv, workflow, tmp_path):
    handlers = write(tmp_path, {"a/map.py": MAPPER.replace("VALUE", "1"), "red.py": REDUCER,
                                "_private.py": "not a handler", "notes.txt": "ignored"})
    first = store(etcd, workflow, handlers)
    assert first.returncode == 0, first.stderr
    assert "add a_map" in first.stdout and "add red" in first.stdout
    assert "added 2, updated 0, unchanged 0, removed 0" in first.stdout
    versions = stored(kv, workflow)
    assert set(versions) == {"a_map", "red"}

    again = store(etcd, workflow, handlers)
    assert "added 0, updated 0, unchanged 2, removed 0" in again.stdout
    assert stored(kv, workflow) == versions

    write(handlers, {"a/map.py": MAPPER.replace("VALUE", "2")})
    changed = store(etcd, workflow, handlers)
    assert "update a_map" in changed.stdout
    assert "added 0, updated 1, unchanged 1, removed 0" in changed.stdout
    assert stored(kv, workflow)["a_map"] != versions["a_map"]
    assert stored(kv, workflow)["red"] == versions["red"]


def test_orphans_removed_unless_a_step_uses_them(etcd, kv, workflow, tmp_path):
    handlers = write(tmp_path, {"used.py": MAPPER.replace("VALUE", "1"), "red.py": REDUCER,
                                "unused.py": MAPPER.replace("VALUE", "3")})
    assert store(etcd, workflow, handlers).returncode == 0
    entities.save(kv, Step(workflow, "s", mapper="used", reducer="red"))
    for name in ("used.py", "unused.py"):
        (handlers / name).unlink()
    result = store(etcd, workflow, handlers)
    assert result.returncode == 0, result.stderr
    assert "remove unused" in result.stdout
    assert "kept used: no file, but used by step s" in result.stdout
    assert set(stored(kv, workflow)) == {"used", "red"}


def test_broken_file_writes_nothing_and_names_file_and_line(etcd, kv, workflow, tmp_path):
    handlers = write(tmp_path, {"good.py": MAPPER.replace("VALUE", "1"),
                                "bad.py": MAPPER.replace("yield Return()", "yield Return(")})
    result = store(etcd, workflow, handlers)
    assert result.returncode == 2
    assert f"{handlers / 'bad.py'}:13: syntax error" in result.stderr
    assert "nothing was written" in result.stderr
    assert stored(kv, workflow) == {}


def test_simulate_only_writes_nothing(etcd, kv, workflow, tmp_path):
    handlers = write(tmp_path, {"m.py": MAPPER.replace("VALUE", "1")})
    result = store(etcd, workflow, handlers, "--simulate-only")
    assert result.returncode == 0
    assert "would add m" in result.stdout and "simulated: nothing written" in result.stdout
    assert stored(kv, workflow) == {}


def test_unknown_workflow_is_a_clear_error(etcd, tmp_path):
    result = store(etcd, "no_such_wf", write(tmp_path, {"m.py": MAPPER}))
    assert result.returncode == 2
    assert "workflow 'no_such_wf' does not exist" in result.stderr


def test_type_change_of_a_handler_a_step_uses_is_refused_with_what_to_do(etcd, kv, workflow,
                                                                         tmp_path):
    handlers = write(tmp_path, {"used.py": MAPPER.replace("VALUE", "1"), "red.py": REDUCER,
                                "other.py": MAPPER.replace("VALUE", "2"),
                                "free.py": MAPPER.replace("VALUE", "3")})
    assert store(etcd, workflow, handlers).returncode == 0
    for name in ("s", "t"):
        entities.save(kv, Step(workflow, name, mapper="used", reducer="red"))
    versions = stored(kv, workflow)
    write(handlers, {"used.py": REDUCER, "free.py": REDUCER})
    for flags in ((), ("--simulate-only",)):
        refused = store(etcd, workflow, handlers, *flags)
        assert refused.returncode == 2, refused.stdout
        assert ("handler 'used' would become a reducer, but step(s) s, t use it as their "
                "mapper" in refused.stderr)
        assert f"mr_kv_step_update_handlers {workflow} mapper used OTHER" in refused.stderr
        assert "nothing was written" in refused.stderr and "'free'" not in refused.stderr
    assert stored(kv, workflow) == versions

    script = Path(sys.executable).parent / "mr_kv_handler_create"
    replaced = subprocess.run([str(script), workflow, str(handlers / "used.py"), "--replace"],
                              capture_output=True, text=True, timeout=60,
                              env={"MR_ETCD_HOSTS": etcd.address, "PATH": "/usr/bin:/bin"})
    assert replaced.returncode == 2
    assert "handler 'used' would become a reducer, but step(s) s, t" in replaced.stderr
    assert stored(kv, workflow) == versions

    # what the message says to do: the steps use another mapper, then the sync goes through
    script = Path(sys.executable).parent / "mr_kv_step_update_handlers"
    moved = subprocess.run([str(script), workflow, "mapper", "used", "other"],
                           capture_output=True, text=True, timeout=60,
                           env={"MR_ETCD_HOSTS": etcd.address, "PATH": "/usr/bin:/bin"})
    assert moved.returncode == 0, moved.stderr
    synced = store(etcd, workflow, handlers)
    assert synced.returncode == 0, synced.stderr
    assert {h.name: h.handler_type for h in entities.list_all(kv, Handler, workflow)} == {
        "used": "reducer", "free": "reducer", "red": "reducer", "other": "mapper"}
