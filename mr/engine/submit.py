"""Turn a validated POST into a request: one etcd transaction, then one message."""
from __future__ import annotations

import time
import uuid

from mr.engine import protocol
from mr.handlers.library import Library
from mr.handlers.source import REQUEST_ARGUMENT_TYPES
from mr.kv.client import KV
from mr.kv.models import FAILED, ROOT_INVOCATION, Invocation, Request
from mr.queue import messages
from mr.queue.publisher import Publisher, PublishError
from mr.queue.topics import topic
from mr.worker import registry


class SubmitError(Exception):
    """A request refused before it ran; `status` is the HTTP status that says why."""

    def __init__(self, status: int, message: str, request_id: str | None = None):
        super().__init__(message)
        self.status = status
        self.request_id = request_id


def check_arguments(arguments: dict, spec: dict | None) -> None:
    """Match POSTed arguments against the first mapper's request_arguments (422 if not)."""
    if spec is None:
        return
    unknown = sorted(set(arguments) - set(spec))
    if unknown:
        raise SubmitError(422, f"unknown argument(s): {', '.join(unknown)}; this job takes "
                               f"{', '.join(sorted(spec)) or 'no arguments'}")
    for name, rule in spec.items():
        if name not in arguments:
            if rule["required"]:
                raise SubmitError(422, f"missing required argument {name!r} ({rule['type']})")
            continue
        expected = REQUEST_ARGUMENT_TYPES[rule["type"]]
        value = arguments[name]
        if not isinstance(value, expected) or (rule["type"] in ("int", "float")
                                               and isinstance(value, bool)):
            raise SubmitError(422, f"argument {name!r} must be {rule['type']}, got "
                                   f"{type(value).__name__}")


def submit(kv: KV, publisher: Publisher, library: Library, job_name: str, arguments: dict,
           blocking: bool, context: dict, default_timeout_s: float,
           request_id: str | None = None) -> Request:
    wf = library.workflow
    job = library.job(job_name)
    if job is None:
        raise SubmitError(404, f"job {job_name!r} not found in workflow {wf!r}")
    step = library.step(job.initial_step)
    mapper = library.handler(step.mapper) if step else None
    if mapper is None:
        raise SubmitError(500, f"job {job_name!r} is misconfigured: its initial step "
                               f"{job.initial_step!r} or that step's mapper is missing")
    check_arguments(arguments, mapper.definition.request_arguments)
    unserved = registry.unserved_capability(kv, library, step)  # initial step only
    if unserved:
        raise SubmitError(503, unserved)
    now = time.time()
    pairs = [[name, value] for name, value in arguments.items()]
    request = Request(workflow=wf, id=request_id or uuid.uuid4().hex, job=job_name, arguments=pairs,
                      blocking=blocking, result_writer=job.result_writer, context=context,
                      created=now, deadline=now + (job.timeout_s or default_timeout_s))
    root = Invocation(id=ROOT_INVOCATION, step=step.name, arguments=pairs)
    protocol.create_request(kv, request, root)
    try:
        publisher.publish(topic(wf, mapper.definition.required_capability),
                          messages.encode(wf, request.id, root.id))
    except PublishError as exc:
        fail(kv, request, "queue", f"could not queue the request: {exc}")
        raise SubmitError(503, f"NSQ unavailable: {exc}", request.id) from None
    return request


def fail(kv: KV, request: Request, reason: str, message: str) -> bool:
    """End a running request with a failure that is not a handler's (timeout, queue down)."""
    request.state, request.finished = FAILED, time.time()
    request.failure = {"reason": reason, "message": message}
    return protocol.end_request(kv, request, [], cleanup=True)
