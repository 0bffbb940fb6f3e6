"""Calling handler code: whatever it raises or yields wrong becomes one HandlerFailure that
names the handler and carries the traceback (the handler file's own lines)."""
from __future__ import annotations

import traceback
from collections.abc import Iterator
from typing import Any, Protocol

from mr.data.inputs import InputError
from mr.engine.pairs import BadPair, as_pair
from mr.handlers.api import Batch
from mr.handlers.processors import LoadedHandler


class HandlerFailure(Exception):
    """A handler raised or broke the handler contract; the request fails with this record.

    `raised` says it was the handler's own exception (those are notified as
    "handler_exception"); `final` failures are not retried.
    """

    final = False
    reason = "handler"   # the request's failure reason

    def __init__(self, message: str, handler: LoadedHandler | None = None,
                 trace: str | None = None, raised: bool = False):
        super().__init__(message)
        self.handler = handler
        self.trace = trace or message
        self.raised = raised


def _raised(handler: LoadedHandler, exc: Exception) -> HandlerFailure:
    if isinstance(exc, InputError):  # met while the handler read its records
        return InputFailure(f"handler {handler.definition.name} could not read its input: "
                            f"{exc}", handler)
    # A subprocess handler's failure carries its own account (exit status, stderr tail).
    trace = getattr(exc, "trace", None) or traceback.format_exc()
    return HandlerFailure(f"handler {handler.definition.name} raised "
                          f"{exc.__class__.__name__}: {exc}", handler, trace, raised=True)


class Limit(Protocol):
    """A run's time limit, as guarded() checks it (mr.engine.timelimit.TimeLimit, which
    imports this module)."""

    def check(self) -> None:
        """Raise once the limit has passed."""


def call(handler: LoadedHandler, ctx: Any, argument: Any) -> Any:
    function = handler.function
    if function is None:  # mr.engine.lookup refuses such a handler before it gets here
        raise HandlerFailure(f"handler {handler.definition.name} does not load: "
                             f"{handler.error}", handler)
    try:
        return function(ctx, argument)
    except HandlerFailure:
        raise
    except Exception as exc:
        raise _raised(handler, exc) from None


def guarded(iterable: Any, handler: LoadedHandler, limit: Limit | None = None) -> Iterator:
    """Iterate a handler's output, turning its exceptions into HandlerFailure with traceback.

    With a time `limit`, stop at the first item after it expired.
    """
    name = handler.definition.name
    try:
        iterator = iter(iterable)
    except TypeError:
        raise HandlerFailure(f"handler {name} returned {type(iterable).__name__}, "
                             f"not an iterable of pairs", handler) from None
    while True:
        try:
            item = next(iterator)
        except StopIteration:
            return
        except HandlerFailure:
            raise
        except Exception as exc:
            raise _raised(handler, exc) from None
        if limit is not None:
            limit.check()
        yield item


class InputFailure(HandlerFailure):
    """A data job's inputs cannot be read (no such file, not UTF-8, bad JSON): retrying the
    same input cannot help."""

    final = True
    reason = "input"


class StorageFailure(HandlerFailure):
    """The shared filesystem is full: the attempt's files are removed and the request fails
    saying so, rather than waiting for space until its deadline."""

    final = True
    reason = "storage"


def pairs(items: Iterator, handler: LoadedHandler) -> Iterator[list]:
    """(key, value) pairs from what a handler yields: pairs, or Batch(list of pairs)."""
    for item in items:
        try:
            if isinstance(item, Batch):
                yield from map(as_pair, item.pairs)
            else:
                yield as_pair(item)
        except BadPair as exc:
            raise HandlerFailure(f"handler {handler.definition.name} {exc}", handler) from None
