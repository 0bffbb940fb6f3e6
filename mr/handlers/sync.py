"""Sync a directory of handler files into a workflow: all or nothing.

Names come from relative paths ("wordcount/count.py" -> "wordcount_count"); files starting
with "_" are skipped. Python files (.py) and scripts in other languages (.sh, .pl, .awk, ...:
subprocess handlers) are handlers; other files are ignored. Every file is parsed (and a Python
one compiled) before anything is written, so one bad file changes nothing. A sync that changes
something sends one "library_updated" notification.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from mr import config
from mr.handlers.source import HandlerSourceError, parse
from mr.kv import entities, keys
from mr.kv.client import MAX_TXN_OPS, op_delete, op_put
from mr.kv.models import HANDLER_TYPES, Handler, Step, encode
from mr.kv.store import Store
from mr.notify import Notifier

# File suffixes that hold handlers: Python runs in the worker, the rest as subprocesses.
LANGUAGES = {".py": "python", **{suffix: "subprocess" for suffix in (
    ".sh", ".bash", ".pl", ".awk", ".rb", ".js", ".lua", ".tcl", ".php")}}

log = logging.getLogger(__name__)


@dataclass
class SyncPlan:
    added: list[Handler] = field(default_factory=list)
    updated: list[Handler] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: dict[str, list[str]] = field(default_factory=dict)  # orphan -> steps using it

    def summary(self) -> str:
        text = (f"added {len(self.added)}, updated {len(self.updated)}, unchanged "
                f"{len(self.unchanged)}, removed {len(self.removed)}")
        for name, users in sorted(self.kept.items()):
            text += f"\nkept {name}: no file, but used by {', '.join(users)}"
        return text


def handler_name(relative: Path) -> str:
    return "_".join(relative.with_suffix("").parts)


def read_directory(workflow: str, directory: Path) -> list[Handler]:
    """Parse every handler file under `directory`; raise on the first one that is broken."""
    if not directory.is_dir():
        raise HandlerSourceError(str(directory), None, "not a directory")
    found = []
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory)
        if (not path.is_file() or path.suffix not in LANGUAGES
                or any(part.startswith(("_", ".")) for part in relative.parts)):
            continue
        found.append(handler_from_file(workflow, path, handler_name(relative), str(relative)))
    return found


def handler_from_file(workflow: str, path: Path, name: str, stored_path: str) -> Handler:
    """Parse and compile one handler file into the entity stored in etcd."""
    source = path.read_text(encoding="utf-8")
    parsed = parse(source, str(path))
    try:
        if path.suffix == ".py":
            compile(source, str(path), "exec")
        keys.check_name("handler", name)
    except SyntaxError as exc:
        raise HandlerSourceError(str(path), exc.lineno, f"syntax error: {exc.msg}") from None
    except ValueError as exc:
        raise HandlerSourceError(str(path), None, str(exc)) from None
    return Handler(
        workflow=workflow, name=name, handler_type=parsed.handler_type, source=source,
        version=parsed.version, path=stored_path, description=parsed.description,
        required_capability=parsed.required_capability, argument_spec=parsed.argument_spec,
        request_arguments=parsed.request_arguments, retries=parsed.retries,
        language=parsed.language, input_format=parsed.input_format)


def role_conflicts(kv: Store, workflow: str, handlers: list[Handler]) -> list[str]:
    """Why storing `handlers` would break steps: one sentence per handler whose type differs
    from the role a step gives it (a worker would run, say, a reducer as that step's mapper)."""
    new_type = {h.name: h.handler_type for h in handlers}
    users: dict[str, dict[str, list[str]]] = {}  # handler -> role -> steps
    for step in entities.list_all(kv, Step, workflow):
        for role in HANDLER_TYPES:
            name = getattr(step, role)
            if name in new_type and new_type[name] != role:
                users.setdefault(name, {}).setdefault(role, []).append(step.name)
    found = []
    for name, roles in sorted(users.items()):
        for role, steps in roles.items():
            found.append(
                f"handler {name!r} would become a {new_type[name]}, but step(s) "
                f"{', '.join(sorted(steps))} use it as their {role}: keep it a {role}, or store "
                f"the {new_type[name]} under another name and first point the step(s) at "
                f"another {role} (mr_kv_step_update_handlers {workflow} {role} {name} OTHER)")
    return found


def plan(kv: Store, workflow: str, directory: Path, force_update: bool = False) -> SyncPlan:
    """What a sync would change; EntityError if it would change the type of a handler that
    a step uses (nothing is written then)."""
    entities.require_workflow(kv, workflow)
    wanted = {h.name: h for h in read_directory(workflow, directory)}
    stored = {h.name: h for h in entities.list_all(kv, Handler, workflow)}
    result = SyncPlan()
    for name, handler in wanted.items():
        old = stored.get(name)
        if old is None:
            result.added.append(handler)
        elif force_update or old.version != handler.version or old.path != handler.path:
            result.updated.append(handler)
        else:
            result.unchanged.append(name)
    conflicts = role_conflicts(kv, workflow, result.added + result.updated)
    if conflicts:
        raise entities.EntityError("; ".join(conflicts))
    for name in sorted(set(stored) - set(wanted)):
        users = entities.referrers(kv, Handler, workflow, name)
        if users:
            result.kept[name] = users
        else:
            result.removed.append(name)
    return result


def apply(kv: Store, workflow: str, sync: SyncPlan, notifier=None) -> int:
    """Write the plan; each handler is one key, so a worker sees each whole version or none.

    Returns the revision of the last write (0 when nothing changed). A change is announced
    once, here, rather than by every worker that applies it.
    """
    ops = [op_put(h.key, encode(h)) for h in sync.added + sync.updated]
    ops += [op_delete(keys.definition(workflow, "handler", n)) for n in sync.removed]
    revision = 0
    for start in range(0, len(ops), MAX_TXN_OPS):
        revision = kv.txn([], ops[start:start + MAX_TXN_OPS]).revision
    if ops:
        announce(workflow, sync, revision, notifier)
    return revision


def announce(workflow: str, sync: SyncPlan, revision: int, notifier=None,
             flush_timeout_s: float = 10.0) -> None:
    """Send "library_updated" (never raises: a sync that was written stays written)."""
    try:
        owned = notifier is None
        notifier = notifier or Notifier.from_settings(config.load())
        notifier.notify("library_updated", f"handlers of workflow {workflow} changed: "
                        f"{sync.summary().splitlines()[0]}", {
                            "workflow": workflow, "revision": revision,
                            "added": [h.name for h in sync.added],
                            "updated": [h.name for h in sync.updated],
                            "removed": sync.removed})
        if owned:
            notifier.flush(flush_timeout_s)
    except Exception as exc:  # a bad notification setting must not fail the sync
        log.warning("library_updated notification for %s not sent: %s", workflow, exc)
