"""Losing etcd's replies on purpose: a transaction that puts a key containing a fragment
commits, but its reply is lost (an UNAVAILABLE error, as when etcd dies just after the
commit), so the client's own retry meets its own write. Per key, once.

Used in this process by tests, and in a cluster's processes by tests/support/lost_replies."""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import grpc
from pyetcd.etcdrpc import TxnRequest

from mr.kv import client
from tests.support.cluster import REPO

SITE = Path(__file__).resolve().parent / "lost_replies"   # the sitecustomize that installs it


class _ReplyLost(grpc.RpcError):
    def code(self):
        return grpc.StatusCode.UNAVAILABLE

    def details(self):
        return "the reply was lost (tests.support.lost_reply)"


def losing_replies(fragment: str) -> dict[str, str]:
    """The environment of a process (worker, script) that loses those replies: the
    sitecustomize on its path, with this checkout's mr rather than an installed one."""
    return {"PYTHONPATH": os.pathsep.join([str(SITE), str(REPO)]), "LOSE_ETCD_REPLY": fragment}


def lose_first_replies(fragment: bytes) -> Callable[[], None]:
    """From now on, in this process; returns what undoes it."""
    lost: set[bytes] = set()
    real_call = client.KV._call

    def first_put(request) -> bytes | None:
        for op in request.success:
            key = op.request_put.key if op.HasField("request_put") else b""
            if fragment in key and key not in lost:
                return key
        return None

    def call(self, method, request):
        key = first_put(request) if isinstance(request, TxnRequest) else None
        if key is None:
            return real_call(self, method, request)
        lost.add(key)
        # to the process's stdout itself: the commit may run in an invocation's thread, whose
        # sys.stdout goes to that invocation's log (mr.engine.context.capture_prints)
        os.write(1, f"lost_replies: the reply to the commit of {key.decode()} is lost\n"
                 .encode())
        sent = []

        def lossy(*args, **kwargs):
            reply = method(*args, **kwargs)
            if not sent:
                sent.append(reply)
                raise _ReplyLost()
            return reply
        return real_call(self, lossy, request)

    client.KV._call = call

    def undo() -> None:
        client.KV._call = real_call
    return undo
