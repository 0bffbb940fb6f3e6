"""Turn a validated POST into a request: one etcd transaction, then one message."""
from __future__ import annotations

import hashlib
import json
import secrets
import time

from mr.config import Settings
from mr.data import parts
from mr.engine import events, listing, registry, request_protocol
from mr.engine.results import has_manifest
from mr.handlers.library import Library, LoadedHandler
from mr.handlers.source import REQUEST_ARGUMENT_TYPES
from mr.kv import keys
from mr.kv.codec import unpack
from mr.kv.models import (
    DONE,
    FAILED,
    ROOT_INVOCATION,
    RUNNING,
    Invocation,
    Job,
    Request,
    decode,
    encode,
)
from mr.kv.store import Store
from mr.notify import Notifier
from mr.queue import messages
from mr.queue.publisher import Publisher, PublishError
from mr.queue.topics import topic

RESULT_INPUT = "result:"   # an input that names a done data request's result


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


def data_arguments(kv: Store, job: Job, mapper: LoadedHandler, inputs: list | None,
                   split_bytes: int | None) -> list:
    """What a data step's root reads: the job's input files (the request's, when it names
    some) and split size. A request names paths inside the workflow's shared filesystem only;
    URLs (s3://, file:///...) are the job definition's to name, by an admin. An input
    `result:<name or request id>` is a done data request's result, resolved now: a retry
    reads the same result, whatever the name holds by then."""
    if not mapper.definition.input_format:
        if inputs is not None or split_bytes is not None:
            raise SubmitError(422, f"job {job.name!r} does not read input files (its initial "
                                   f"step's mapper has no `input` format): drop \"inputs\" "
                                   f"and \"split_bytes\"")
        return []
    if inputs is not None:
        if (not isinstance(inputs, list) or not inputs
                or not all(isinstance(name, str) and name for name in inputs)):
            raise SubmitError(422, '"inputs" must be a non-empty list of paths (strings)')
        for name in inputs:
            if "://" in name or name.startswith("/") or ".." in name.split("/"):
                raise SubmitError(422, f"input {name!r}: a request names paths inside the "
                                       f"workflow's shared filesystem (relative, no '..'); "
                                       f"URLs and other places are named in the job "
                                       f"(mr_kv_job_create --input)")
    if split_bytes is not None and (isinstance(split_bytes, bool)
                                    or not isinstance(split_bytes, int) or split_bytes < 1):
        raise SubmitError(422, '"split_bytes" must be a whole number of bytes >= 1')
    names = inputs if inputs is not None else job.inputs
    if not names:
        raise SubmitError(422, f"job {job.name!r} reads input files but names none: give "
                               f"\"inputs\" in the body, e.g. {{\"arguments\": {{}}, "
                               f"\"inputs\": [\"data/*.txt\"]}}")
    names = [_result_dir(kv, job.workflow, name) if name.startswith(RESULT_INPUT) else name
             for name in names]
    return [["inputs", names], ["split_bytes", split_bytes or job.split_bytes],
            ["allow_urls", inputs is None]]


def _result_dir(kv: Store, wf: str, input_name: str) -> str:
    wanted = input_name[len(RESULT_INPUT):]
    entry = kv.get(keys.request(wf, listing.request_id_of(kv, wf, wanted)))
    if entry is None:
        raise SubmitError(422, f"input {input_name!r}: no request of workflow {wf!r} has the "
                               f"name or id {wanted!r}")
    found = decode(Request, entry.value)
    if found.state != DONE:
        raise SubmitError(409, f"input {input_name!r}: request {found.id} is {found.state}; "
                               f"only a done request's result can be read (GET /request/{wf}/"
                               f"{found.id}?wait=60 waits for it to end)")
    if not has_manifest(found):
        raise SubmitError(422, f"input {input_name!r}: request {found.id} (job {found.job}) "
                               f"is not a data job's: its result has no part files to read")
    return parts.results_dir(found.id)


def request_digest(job: str, arguments: dict) -> str:
    """What a name is bound to: the job and its arguments, in a canonical form."""
    canonical = json.dumps([job, arguments], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def new_request_id() -> str:
    """Unguessable: whoever knows an id can read the request's result."""
    return secrets.token_hex(16)


def submit(kv: Store, publisher: Publisher, library: Library, job_name: str, arguments: dict,
           blocking: bool, context: dict, settings: Settings, request_id: str | None = None,
           name: str | None = None, recompute: bool = False,
           notifier: Notifier | None = None, inputs: list | None = None,
           split_bytes: int | None = None,
           expected_s: float | None = None) -> tuple[Request, bool]:
    """Create and queue a request; (request, reused).

    A named request whose name already holds the same job and arguments is reused (its
    stored result, or the run in progress) unless `recompute`; a name bound to other
    arguments is a 409. A request that cannot be queued fails at once (reason "queue"),
    notified to `notifier`.
    """
    wf = library.workflow
    job = library.job(job_name)
    if job is None:
        raise SubmitError(404, f"job {job_name!r} not found in workflow {wf!r}")
    step = library.step(job.initial_step)
    mapper = library.handler(step.mapper) if step else None
    if step is None or mapper is None:
        raise SubmitError(500, f"job {job_name!r} is misconfigured: its initial step "
                               f"{job.initial_step!r} or that step's mapper is missing")
    check_arguments(arguments, mapper.definition.request_arguments)
    data = data_arguments(kv, job, mapper, inputs, split_bytes)
    unserved = registry.unserved_capability(kv, library, step)  # initial step only
    if unserved:
        raise SubmitError(503, unserved)
    digest = request_digest(job_name, {"arguments": arguments, "inputs": data} if data
                            else arguments)
    name_revision = 0
    if name is not None:
        try:
            keys.check_name("request", name, 128)
        except ValueError as exc:
            raise SubmitError(400, str(exc)) from None
        if keys.REQUEST_ID_RE.match(name):
            raise SubmitError(400, f"request name {name!r} looks like a request id (32 hex "
                                   f"digits): a name must not, so that either can be given "
                                   f"where a request is asked for")
        existing, name_revision = _named(kv, wf, name, digest)
        if existing is not None and not recompute and existing.state in (RUNNING, DONE):
            return existing, True
    now = time.time()
    pairs = [[key, value] for key, value in arguments.items()]
    request = Request(workflow=wf, id=request_id or new_request_id(), job=job_name,
                      arguments=pairs, blocking=blocking, result_writer=job.result_writer,
                      context=context, created=now,
                      deadline=now + (job.timeout_s or settings.request_timeout_s),
                      name=name, digest=digest,
                      keep_s=None if name else settings.retention_s,
                      keep_failed_s=None if name else settings.failed_retention_s,
                      expected_s=expected_s or mapper.expected_s)
    root = Invocation(id=ROOT_INVOCATION, step=step.name, arguments=data or pairs)
    revision = request_protocol.create_request(kv, request, root, name_revision)
    if not revision:
        raise SubmitError(409, f"request name {name!r} was taken by another request at the "
                               f"same moment; repeat the POST to get that request")
    try:
        publisher.publish(topic(wf, mapper.definition.required_capability),
                          messages.encode(wf, request.id, root.id, revision, encode(root)))
    except PublishError as exc:
        if fail(kv, request, "queue", f"could not queue the request: {exc}") and notifier:
            events.request_ended(notifier, request)
        raise SubmitError(503, f"NSQ unavailable: {exc}", request.id) from None
    return request, False


def _named(kv: Store, wf: str, name: str, digest: str) -> tuple[Request | None, int]:
    """The request a name holds now (None if none) and the name key's revision."""
    entry = kv.get(keys.name(wf, name))
    if entry is None:
        return None, 0
    bound = unpack(entry.value)
    if bound["digest"] != digest:
        raise SubmitError(409, f"the name {name!r} already holds a request with other "
                               f"arguments (request {bound['request_id']}); use another name, "
                               f"or free this one with mr_kv_request_cleanup {wf} "
                               f"{bound['request_id']}", bound["request_id"])
    found = kv.get(keys.request(wf, bound["request_id"]))
    return (decode(Request, found.value) if found else None), entry.mod_revision


def fail(kv: Store, request: Request, reason: str, message: str) -> bool:
    """End a running request with a failure that is not a handler's (timeout, queue down)."""
    request.state, request.finished = FAILED, time.time()
    request.failure = {"reason": reason, "message": message}
    return request_protocol.end_request(kv, request, [], cleanup=True)
