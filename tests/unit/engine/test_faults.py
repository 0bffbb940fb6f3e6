"""Which exceptions from engine code are outages (requeued) and which fail the request."""
from __future__ import annotations

import grpc
import msgpack
import pytest

from mr import config
from mr.engine.faults import EngineFailure, transient
from mr.kv.errors import EtcdSecurityError, EtcdUnavailable
from mr.queue.publisher import PublishError


class Rpc(grpc.RpcError):
    """What grpc raises: an RpcError that is also a Call with a code()."""

    def __init__(self, code: grpc.StatusCode):
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code


@pytest.mark.parametrize("exc", [
    EtcdUnavailable("etcd at x did not answer"), EtcdSecurityError("denied"),
    PublishError("no NSQ broker reachable"), ConnectionRefusedError(), TimeoutError(),
    FileNotFoundError("blob"), OSError("disk"),
    Rpc(grpc.StatusCode.UNAVAILABLE), Rpc(grpc.StatusCode.RESOURCE_EXHAUSTED)])
def test_outages_are_transient(exc):
    assert transient(exc)


@pytest.mark.parametrize("exc", [
    TypeError("'int' object is not iterable"), KeyError("step"), ValueError("bad"),
    AttributeError("x"), msgpack.exceptions.FormatError(), RuntimeError("bug"),
    Rpc(grpc.StatusCode.INVALID_ARGUMENT)])
def test_bugs_and_corrupt_data_are_not(exc):
    assert not transient(exc)


def test_an_engine_failure_names_the_invocation_and_carries_the_traceback():
    try:
        [pair for pair in 5]
    except TypeError as exc:
        failure = EngineFailure("0.3", exc, 3)
    assert str(failure).startswith("engine error in invocation 0.3: TypeError: 'int' object "
                                   "is not iterable (a bug or corrupt data, not an outage")
    assert failure.trace.startswith("Traceback (most recent call last)")
    assert failure.trace.rstrip().endswith("TypeError: 'int' object is not iterable")
    assert failure.handler is None and not failure.raised
    assert str(EngineFailure("0", msgpack.exceptions.FormatError(), 3)).startswith(
        "engine error in invocation 0: FormatError (a bug")


def test_engine_error_attempts_setting():
    assert config.load({}).engine_error_attempts == 3
    assert config.load({"MR_ENGINE_ERROR_ATTEMPTS": "5"}).engine_error_attempts == 5
    with pytest.raises(ValueError, match="MR_ENGINE_ERROR_ATTEMPTS='0' is not valid: must be "
                                         "at least 1"):
        config.load({"MR_ENGINE_ERROR_ATTEMPTS": "0"})
