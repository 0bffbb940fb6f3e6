"""Definitions (workflow, job, step, handler): read, list, and write with reference checks.

Scripts and the dev cluster go through here, so a job never names a missing step and a step
never names a missing handler or one of the wrong type.
"""
from __future__ import annotations

from typing import TypeVar

from mr.kv import keys
from mr.kv.client import KV, cmp_absent, op_delete, op_put
from mr.kv.models import Handler, Job, Step, Workflow, decode, encode

T = TypeVar("T")
KIND_OF = {Job: "job", Step: "step", Handler: "handler"}


class EntityError(ValueError):
    """A definition that refers to something missing, or a name that is taken or unknown."""


def get_workflow(kv: KV, name: str) -> Workflow | None:
    entry = kv.get(keys.workflow(name))
    return decode(Workflow, entry.value) if entry else None


def require_workflow(kv: KV, name: str) -> Workflow:
    found = get_workflow(kv, name)
    if found is None:
        raise EntityError(f"workflow {name!r} does not exist")
    return found


def list_workflows(kv: KV) -> list[Workflow]:
    return [decode(Workflow, e.value) for e in kv.scan(keys.workflows())]


def create_workflow(kv: KV, workflow: Workflow) -> None:
    keys.check_name("workflow", workflow.name, keys.MAX_TOPIC_PART)
    if not kv.txn([cmp_absent(workflow.key)], [op_put(workflow.key, encode(workflow))]).succeeded:
        raise EntityError(f"workflow {workflow.name!r} already exists")


def delete_workflow(kv: KV, name: str) -> None:
    """The workflow and everything stored under it."""
    require_workflow(kv, name)
    kv.txn([], [op_delete(keys.workflow(name)),
                op_delete(keys.workflow_data(name), prefix=True)])


def get(kv: KV, cls: type[T], workflow: str, name: str) -> T | None:
    entry = kv.get(keys.definition(workflow, KIND_OF[cls], name))
    return decode(cls, entry.value) if entry else None


def list_all(kv: KV, cls: type[T], workflow: str) -> list[T]:
    return [decode(cls, e.value) for e in kv.scan(keys.definitions_of(workflow, KIND_OF[cls]))]


def check_job(kv: KV, job: Job) -> None:
    keys.check_name("job", job.name)
    if get(kv, Step, job.workflow, job.initial_step) is None:
        raise EntityError(f"job {job.name!r}: initial step {job.initial_step!r} does not exist")
    if job.result_writer not in ("inline", "file"):
        raise EntityError(f"job {job.name!r}: result writer must be inline or file")


def check_step(kv: KV, step: Step) -> None:
    keys.check_name("step", step.name)
    for role, name in (("mapper", step.mapper), ("combiner", step.combiner),
                       ("reducer", step.reducer)):
        if not name:
            if role != "combiner":
                raise EntityError(f"step {step.name!r} needs a {role}")
            continue
        handler = get(kv, Handler, step.workflow, name)
        if handler is None:
            raise EntityError(f"step {step.name!r}: {role} {name!r} does not exist")
        if handler.handler_type != role:
            raise EntityError(f"step {step.name!r}: {name!r} is a {handler.handler_type}, "
                              f"not a {role}")


def save(kv: KV, entity, create_only: bool = False) -> None:
    """Write a job or step after checking what it refers to."""
    require_workflow(kv, entity.workflow)
    {Job: check_job, Step: check_step, Handler: lambda *_: None}[type(entity)](kv, entity)
    compare = [cmp_absent(entity.key)] if create_only else []
    if not kv.txn(compare, [op_put(entity.key, encode(entity))]).succeeded:
        raise EntityError(f"{KIND_OF[type(entity)]} {entity.name!r} already exists in "
                          f"workflow {entity.workflow!r}")


def referrers(kv: KV, cls: type, workflow: str, name: str) -> list[str]:
    """What refers to a step (jobs) or a handler (steps): deleting it would break them."""
    if cls is Step:
        return [f"job {j.name}" for j in list_all(kv, Job, workflow) if j.initial_step == name]
    if cls is Handler:
        return [f"step {s.name}" for s in list_all(kv, Step, workflow)
                if name in s.handler_names()]
    return []


def delete(kv: KV, cls: type, workflow: str, name: str, force: bool = False) -> None:
    if get(kv, cls, workflow, name) is None:
        raise EntityError(f"{KIND_OF[cls]} {name!r} does not exist in workflow {workflow!r}")
    users = referrers(kv, cls, workflow, name)
    if users and not force:
        raise EntityError(f"{KIND_OF[cls]} {name!r} is used by {', '.join(users)}; "
                          f"use --force to delete it anyway")
    kv.delete(keys.definition(workflow, KIND_OF[cls], name))
