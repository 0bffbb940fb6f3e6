"""Definitions (workflow, job, step, handler): read, list, and write with reference checks.

Scripts and the dev cluster go through here, so a job never names a missing step and a step
never names a missing handler or one of the wrong type.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from mr.kv import keys
from mr.kv.client import MAX_TXN_OPS, cmp_absent, cmp_mod_revision, op_delete, op_get, op_put
from mr.kv.codec import unpack
from mr.kv.models import (
    HANDLER_TYPES,
    RESULT_WRITERS,
    RUNNING,
    Handler,
    Job,
    Request,
    Step,
    Workflow,
    decode,
    encode,
)
from mr.kv.store import Store

T = TypeVar("T")
KIND_OF = {Job: "job", Step: "step", Handler: "handler"}


class EntityError(ValueError):
    """A definition that refers to something missing, or a name that is taken or unknown."""


def get_workflow(kv: Store, name: str) -> Workflow | None:
    entry = kv.get(keys.workflow(name))
    return decode(Workflow, entry.value) if entry else None


def require_workflow(kv: Store, name: str) -> Workflow:
    found = get_workflow(kv, name)
    if found is None:
        raise EntityError(f"workflow {name!r} does not exist")
    return found


def list_workflows(kv: Store) -> list[Workflow]:
    return [decode(Workflow, e.value) for e in kv.scan(keys.workflows())]


def create_workflow(kv: Store, workflow: Workflow) -> None:
    keys.check_name("workflow", workflow.name, keys.MAX_TOPIC_PART)
    record = encode(workflow)   # its creation time makes it this call's alone
    created = kv.txn([cmp_absent(workflow.key)], [op_put(workflow.key, record)],
                     [op_get(workflow.key)])
    if not (created.succeeded or created.holds(0, record)):   # holds: its reply was lost
        raise EntityError(f"workflow {workflow.name!r} already exists")


def delete_workflow(kv: Store, name: str) -> None:
    """The workflow and everything stored under it."""
    require_workflow(kv, name)
    kv.txn([], [op_delete(keys.workflow(name)),
                op_delete(keys.workflow_data(name), prefix=True)])


def get(kv: Store, cls: type[T], workflow: str, name: str) -> T | None:
    entry = kv.get(keys.definition(workflow, KIND_OF[cls], name))
    return decode(cls, entry.value) if entry else None


def list_all(kv: Store, cls: type[T], workflow: str) -> list[T]:
    return [decode(cls, e.value) for e in kv.scan(keys.definitions_of(workflow, KIND_OF[cls]))]


def check_job(kv: Store, job: Job) -> None:
    keys.check_name("job", job.name)
    if get(kv, Step, job.workflow, job.initial_step) is None:
        raise EntityError(f"job {job.name!r}: initial step {job.initial_step!r} does not exist")
    if job.result_writer not in RESULT_WRITERS:
        raise EntityError(f"job {job.name!r}: result writer must be inline or file")


def check_step(kv: Store, step: Step) -> None:
    keys.check_name("step", step.name)
    found: dict[str, Handler] = {}
    for role, name in (("mapper", step.mapper), ("combiner", step.combiner),
                       ("reducer", step.reducer)):
        if not name:
            if role == "mapper":
                raise EntityError(f"step {step.name!r} needs a mapper")
            continue
        handler = get(kv, Handler, step.workflow, name)
        if handler is None:
            raise EntityError(f"step {step.name!r}: {role} {name!r} does not exist")
        if handler.handler_type != role:
            raise EntityError(f"step {step.name!r}: {name!r} is a {handler.handler_type}, "
                              f"not a {role}")
        found[role] = handler
    if not step.reducer:
        _check_map_only(step, found["mapper"])


def _check_map_only(step: Step, mapper: Handler) -> None:
    """A step without a reducer writes each input split's pairs as a part of the result, in
    input order: only a data step can, and nothing of a shuffle applies to it."""
    if not mapper.input_format:
        raise EntityError(f"step {step.name!r} needs a reducer: only a step whose mapper "
                          f"reads input files (metadata input: text, jsonl, csv or raw) may be "
                          f"map-only, and {mapper.name!r} reads none")
    shuffle = [what for what, given in (("a combiner", step.combiner),
                                        ("partitions", step.partitions),
                                        ("a partitioner", step.partitioner)) if given]
    if shuffle:
        raise EntityError(f"step {step.name!r} has no reducer (map-only: each split writes "
                          f"its own part, nothing is shuffled), so it cannot have "
                          f"{' or '.join(shuffle)}: give a reducer, or leave them out")


def save(kv: Store, entity: Job | Step | Handler, create_only: bool = False) -> None:
    """Write a job or step after checking what it refers to."""
    require_workflow(kv, entity.workflow)
    checks: dict[type, Callable[[Store, Any], None]] = {
        Job: check_job, Step: check_step, Handler: lambda *_: None}
    checks[type(entity)](kv, entity)
    compare = [cmp_absent(entity.key)] if create_only else []
    if not kv.txn(compare, [op_put(entity.key, encode(entity))]).succeeded:
        raise EntityError(f"{KIND_OF[type(entity)]} {entity.name!r} already exists in "
                          f"workflow {entity.workflow!r}")


def referrers(kv: Store, cls: type, workflow: str, name: str) -> list[str]:
    """What refers to a step (jobs, and handlers whose source maps to it) or a handler
    (steps): deleting it would break them."""
    if cls is Step:
        maps_to = re.compile(rf"""\bMapTo\(\s*(['"]){re.escape(name)}\1""")
        return ([f"job {j.name}" for j in list_all(kv, Job, workflow) if j.initial_step == name]
                + [f'handler {h.name} (MapTo("{name}"))' for h in list_all(kv, Handler, workflow)
                   if maps_to.search(h.source or "")])
    if cls is Handler:
        return [f"step {s.name}" for s in list_all(kv, Step, workflow)
                if name in s.handler_names()]
    return []


def delete(kv: Store, cls: type, workflow: str, name: str, force: bool = False) -> None:
    if get(kv, cls, workflow, name) is None:
        raise EntityError(f"{KIND_OF[cls]} {name!r} does not exist in workflow {workflow!r}")
    users = referrers(kv, cls, workflow, name)
    if users and not force:
        raise EntityError(f"{KIND_OF[cls]} {name!r} is used by {', '.join(users)}; "
                          f"use --force to delete it anyway")
    kv.delete(keys.definition(workflow, KIND_OF[cls], name))


# --- additions for the admin scripts ---------------------------------------------------------

def require(kv: Store, cls: type[T], workflow: str, name: str) -> T:
    """The definition, or an EntityError naming what is missing (workflow first)."""
    require_workflow(kv, workflow)
    found = get(kv, cls, workflow, name)
    if found is None:
        raise EntityError(f"{KIND_OF[cls]} {name!r} does not exist in workflow {workflow!r}")
    return found


def workflow_contents(kv: Store, name: str) -> dict[str, int]:
    """How many definitions and requests a workflow holds (count-only reads)."""
    counts = {f"{kind}s": kv.count(keys.definitions_of(name, kind))
              for kind in ("job", "step", "handler")}
    counts["requests"] = kv.count(keys.requests(name))
    return counts


def rename_handler_references(kv: Store, workflow: str, role: str, old: str, new: str,
                              simulate: bool = False) -> list[str]:
    """Point every step whose `role` handler is `old` at `new`; returns the steps changed.

    `new` must exist and be a `role`. Each step is written only if unchanged since it was read
    (compare on its revision), so a concurrent edit is never overwritten.
    """
    if role not in HANDLER_TYPES:
        raise EntityError(f"handler type must be one of {', '.join(HANDLER_TYPES)}")
    target = require(kv, Handler, workflow, new)
    if target.handler_type != role:
        raise EntityError(f"handler {new!r} is a {target.handler_type}, not a {role}")
    changed: list[tuple[Step, int]] = []
    for entry in kv.scan(keys.definitions_of(workflow, "step")):
        step = decode(Step, entry.value)
        if getattr(step, role) == old:
            setattr(step, role, new)
            changed.append((step, entry.mod_revision))
    if not simulate:
        for start in range(0, len(changed), MAX_TXN_OPS):
            batch = changed[start:start + MAX_TXN_OPS]
            if not kv.txn([cmp_mod_revision(s.key, rev) for s, rev in batch],
                          [op_put(s.key, encode(s)) for s, _ in batch]).succeeded:
                raise EntityError("a step changed while renaming; nothing in this batch was "
                                  "written, run the command again")
    return [step.name for step, _ in changed]


def request_footprint(kv: Store, workflow: str, rid: str) -> dict[str, int]:
    """Keys a request owns, counted per kind (inv, out, fan, sess, live, request).

    Reads keys only, a page at a time: a request with many invocations costs no memory.
    """
    prefix = keys.request_data(workflow, rid)
    counts: dict[str, int] = {}
    for entry in kv.scan(prefix, keys_only=True):
        kind = entry.key[len(prefix):].split("/", 1)[0]
        counts[kind] = counts.get(kind, 0) + 1
    counts["request"] = kv.count(keys.request(workflow, rid))
    return counts


DELETE_PAGE = 1000


def delete_request_data(kv: Store, workflow: str, rid: str, page: int = DELETE_PAGE) -> int:
    """Delete what request `rid` owns under its data prefix, `page` keys per transaction;
    how many keys went.

    One prefix delete would do, but etcd 3.4 copies a write buffer into every transaction
    it applies, and that buffer keeps the size of the largest write it ever took: after one
    delete of 60,000 keys, etcd spent twice the CPU on every later transaction.
    """
    prefix, deleted = keys.request_data(workflow, rid), 0
    while True:
        entries, _, _ = kv.range(prefix, limit=page, keys_only=True)
        if not entries:
            return deleted
        kv.txn([], [op_delete(entries[0].key, end=entries[-1].key + "\0")])
        deleted += len(entries)


def cleanup_request(kv: Store, workflow: str, rid: str) -> bool:
    """Delete a request: its record, its data, and its entries in the state, deadline and
    expiry timelines and the name index (the data a page at a time, then the rest in one
    transaction; False if it changed meanwhile)."""
    entry = kv.get(keys.request(workflow, rid))
    if entry is not None and decode(Request, entry.value).state != RUNNING:
        delete_request_data(kv, workflow, rid)
    compare, ops = _removal(kv, workflow, rid, entry)
    return kv.txn(compare, ops).succeeded


def cleanup_requests(kv: Store, workflow: str, rids: list[str],
                     keep_running: bool = True) -> tuple[list[str], list[str]]:
    """Delete many requests in few transactions; (removed, running ones left alone).

    A batch whose compares fail (one request changed meanwhile) is retried one by one.
    """
    removed, running, batch = [], [], []
    for start in range(0, len(rids), 100):
        chunk = rids[start:start + 100]
        records = kv.txn([], [op_get(keys.request(workflow, rid)) for rid in chunk])
        for i, rid in enumerate(chunk):
            entry = records.entry(i)
            if keep_running and entry is not None and \
                    decode(Request, entry.value).state == RUNNING:
                running.append(rid)
                continue
            delete_request_data(kv, workflow, rid)
            batch.append((rid, *_removal(kv, workflow, rid, entry)))
    while batch:
        take, compares, ops = [], 0, 0
        while batch and compares + len(batch[0][1]) <= MAX_TXN_OPS \
                and ops + len(batch[0][2]) <= MAX_TXN_OPS:
            item = batch.pop(0)
            take.append(item)
            compares, ops = compares + len(item[1]), ops + len(item[2])
        if kv.txn([c for t in take for c in t[1]], [o for t in take for o in t[2]]).succeeded:
            removed += [rid for rid, _, _ in take]
        else:
            removed += [rid for rid, _, _ in take if cleanup_request(kv, workflow, rid)]
    return removed, running


def _removal(kv: Store, workflow: str, rid: str, entry) -> tuple[list, list]:
    """The compares and deletes that remove request `rid` (its record `entry`, if any)."""
    compare, ops = [], [op_delete(keys.request_data(workflow, rid), prefix=True)]
    if entry is not None:
        request = decode(Request, entry.value)
        compare.append(cmp_mod_revision(request.key, entry.mod_revision))
        ops += [op_delete(request.key),
                op_delete(keys.state_entry(workflow, request.state, request.job,
                                           request.created, rid))]
        if request.deadline is not None:
            ops.append(op_delete(keys.deadline(workflow, request.deadline, rid)))
        if request.expires is not None:
            ops.append(op_delete(keys.expiry(workflow, request.expires, rid)))
        if request.name:
            named = kv.get(keys.name(workflow, request.name))
            if named is not None and unpack(named.value).get("request_id") == rid:
                compare.append(cmp_mod_revision(named.key, named.mod_revision))
                ops.append(op_delete(named.key))
    return compare, ops
