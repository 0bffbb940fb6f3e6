"""Outcome: the word Runner.handle() returns for a message it may FINish.

The worker acts on one of them (a workflow it does not serve is logged as dropped); logs and
tests read the rest. Members are strings (StrEnum), equal to the words they always were.
RequestEnded, raised anywhere in a run, ends it as REQUEST_ENDED.
"""
from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    # the run committed its effect
    DONE = "done"
    FAILED = "failed"
    # nothing to run (mr.engine.claiming.Skip)
    REQUEST_ENDED = "request-ended"
    ALREADY_DONE = "already-done"
    RUNNING_ELSEWHERE = "running-elsewhere"  # a duplicate; its owner is alive and working
    PAUSED = "paused"  # dropped: resuming the request publishes what is left
    # a message for a workflow this worker does not serve
    NOT_MANAGED = "not-managed"


class RequestEnded(Exception):
    """The request failed, timed out, was cancelled or finished meanwhile: nothing is left
    to do (the run ends as Outcome.REQUEST_ENDED)."""
