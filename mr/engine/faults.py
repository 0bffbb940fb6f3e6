"""Exceptions from the engine's own code (not a handler's): an outage, or a bug / corrupt data.

An outage (etcd or the broker unreachable, the network, the shared filesystem) is transient:
the message comes back until it passes, as nothing durable happened. Anything else (a
TypeError from an invocation record whose `arguments` is not a list, a record that does not
decode, a bug) would fail the same way at every delivery, so after MR_ENGINE_ERROR_ATTEMPTS
deliveries it fails the request with reason "engine" and its traceback, instead of coming back
until the request's deadline hides it behind a "timeout".
"""
from __future__ import annotations

import traceback

import grpc

from mr.engine.claiming import Skip
from mr.kv import keys
from mr.kv.errors import EtcdUnavailable
from mr.kv.models import FINISHED_STATES, RUNNING, WAITING, Invocation, Request, decode
from mr.kv.store import Store
from mr.queue.messages import InvocationMessage
from mr.queue.publisher import PublishError

UNREADABLE = "(unreadable record)"  # the step of a stand-in for a record that did not decode

# gRPC codes that mean "not now" rather than "never" (KV already turns UNAVAILABLE and
# DEADLINE_EXCEEDED into EtcdUnavailable once its own retries run out).
TRANSIENT_GRPC = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                            grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.ABORTED,
                            grpc.StatusCode.CANCELLED})


def transient(exc: BaseException) -> bool:
    """Would the same delivery later succeed? True for outages of etcd, NSQ, network, disk."""
    if isinstance(exc, (EtcdUnavailable, PublishError, OSError)):
        return True  # OSError covers ConnectionError, TimeoutError, socket and file errors
    if isinstance(exc, grpc.RpcError) and callable(getattr(exc, "code", None)):
        return exc.code() in TRANSIENT_GRPC
    return False


def describe(exc: BaseException) -> str:
    """"TypeError: 'int' object is not iterable"; the class alone when the text is empty."""
    return f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__


class EngineFailure(Exception):
    """Engine code raised something that is no outage: the record the request fails with.

    It has the attributes Runner._fail reads from a HandlerFailure (no handler; not the
    handler's own exception, so no handler_exception notification).
    """

    handler = None
    raised = False
    reason = "engine"

    def __init__(self, invocation_id: str, exc: BaseException, deliveries: int):
        super().__init__(f"engine error in invocation {invocation_id}: {describe(exc)} (a bug "
                         f"or corrupt data, not an outage, still at delivery {deliveries} of "
                         f"its message: see the traceback, fix the cause, then "
                         f"mr_request_retry)")
        self.trace = "".join(traceback.format_exception(exc))


def failed_at(kv: Store, msg: InvocationMessage,
              taken: Skip | None) -> tuple[Request, Invocation, bool] | None:
    """Where an engine error that came before (or without) a run fails its request: the
    request, the invocation to name, and whether to mark that invocation failed; None when
    the request is no longer running.

    An invocation that already finished or waits for its children is named, not marked (the
    error came after it); an unreadable record is replaced by a failed one that can be read
    (its error holds the traceback).
    """
    request = taken.request if taken else None
    if request is None:
        entry = kv.get(keys.request(msg.workflow, msg.request_id))
        request = decode(Request, entry.value) if entry is not None else None
    if not request or request.state != RUNNING:
        return None
    inv = taken.inv if taken else None
    if inv is None:
        entry = kv.get(keys.invocation(msg.workflow, msg.request_id, msg.invocation_id))
        try:
            inv = decode(Invocation, entry.value) if entry is not None else None
        except Exception:
            return request, Invocation(id=msg.invocation_id, step=UNREADABLE), True
        if inv is None:
            return request, Invocation(id=msg.invocation_id, step=UNREADABLE), False
    return request, inv, inv.state not in FINISHED_STATES and inv.state != WAITING
