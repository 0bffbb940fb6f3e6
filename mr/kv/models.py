"""The entities, as plain dataclasses stored as msgpack maps of their fields.

Decoding ignores fields it does not know, so a newer process can add fields without breaking
an older one reading the same keys.
"""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any, TypeVar

from mr.kv import keys
from mr.kv.codec import pack, unpack

T = TypeVar("T")

HANDLER_TYPES = ("mapper", "combiner", "reducer")


class State(StrEnum):
    """A request's or an invocation's state. Members are strings (StrEnum), so records pack,
    and the JSON API answers, the same plain values as ever; a state decoded from a record (a
    str) compares equal to its member."""
    # requests and invocations
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    # requests only
    CANCELLED = "cancelled"
    # invocations only (a mapper that fanned out is WAITING for its children)
    QUEUED = "queued"
    WAITING = "waiting"
    # Shown, never stored: unfinished when its request failed or was cancelled (a retry
    # resumes it)
    STOPPED = "stopped"
    # Shown, never stored: a running request whose pause key exists (mr.engine.control.pause)
    PAUSED = "paused"


# the names the code compares against
RUNNING, DONE, FAILED, CANCELLED = State.RUNNING, State.DONE, State.FAILED, State.CANCELLED
QUEUED, WAITING, STOPPED, PAUSED = State.QUEUED, State.WAITING, State.STOPPED, State.PAUSED
REQUEST_STATES = (RUNNING, DONE, FAILED, CANCELLED)
FINISHED_STATES = (DONE, FAILED)


class ResultWriter(StrEnum):
    """How a finished request hands back its pairs (mr.engine.results), chosen per job. A
    str, like State: records and the JSON API hold the plain value."""
    INLINE = "inline"   # kept on the request record (written as a file when too large)
    FILE = "file"       # written to a JSON file; the request carries its path


RESULT_WRITERS = tuple(ResultWriter)

# Invocation kinds: a mapper, its step's reduction, and one partition of a data step's shuffle
MAP, REDUCE, PARTITION = "map", "reduce", "partition"

ROOT_INVOCATION = "0"
REDUCE_SUFFIX = ".r"


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


@functools.cache
def _known(cls: type) -> frozenset[str]:
    return frozenset(_field_names(cls))


def encode(entity: Any) -> bytes:
    cls: type = type(entity)  # plain `type`: mypy does not take a type[...] for Hashable
    return pack({name: getattr(entity, name) for name in _field_names(cls)})


def decode(cls: type[T], data: bytes) -> T:
    raw = unpack(data)
    hashable: type = cls  # as in encode()
    known = _known(hashable)
    return cls(**{k: v for k, v in raw.items() if k in known})


@dataclass
class Workflow:
    name: str
    description: str = ""
    created: float = field(default_factory=time.time)
    # "package.module:function" called with a handler's name: values for that handler's scope
    scope_factory: str | None = None

    @property
    def key(self) -> str:
        return keys.workflow(self.name)


@dataclass
class Job:
    workflow: str
    name: str
    initial_step: str
    description: str = ""
    result_writer: str = ResultWriter.INLINE
    timeout_s: float | None = None
    # A data job's input files (paths, globs, directories, fsspec URLs) and split size
    inputs: list | None = None
    split_bytes: int | None = None

    @property
    def key(self) -> str:
        return keys.definition(self.workflow, "job", self.name)


@dataclass
class Step:
    workflow: str
    name: str
    mapper: str
    reducer: str | None         # None: a map-only data step, each split's pairs are a part
    combiner: str | None = None
    description: str = ""
    # A data step's shuffle: reducers run in parallel, one per partition (DESIGN.md §3b)
    partitions: int | None = None
    partitioner: str | None = None      # "package.module:function"; default a stable hash

    @property
    def key(self) -> str:
        return keys.definition(self.workflow, "step", self.name)

    def handler_names(self) -> list[str]:
        return [n for n in (self.mapper, self.combiner, self.reducer) if n]


@dataclass
class Handler:
    workflow: str
    name: str
    handler_type: str
    source: str
    version: str
    path: str
    description: str = ""
    required_capability: str = "general"
    argument_spec: list = field(default_factory=list)
    request_arguments: dict | None = None
    retries: int = 0
    language: str = "python"
    input_format: str | None = None   # a data mapper's records: text, jsonl, csv or raw

    @property
    def key(self) -> str:
        return keys.definition(self.workflow, "handler", self.name)


@dataclass
class Request:
    workflow: str
    id: str
    job: str
    arguments: list
    blocking: bool = True
    result_writer: str = ResultWriter.INLINE
    context: dict = field(default_factory=dict)
    state: str = RUNNING
    created: float = field(default_factory=time.time)
    finished: float | None = None
    deadline: float | None = None
    result: Any = None          # inline result: list of [key, value] pairs
    result_path: str | None = None
    failure: dict | None = None
    name: str | None = None         # named requests are kept with their result
    digest: str | None = None       # of job + arguments: a name is reused only for the same
    keep_s: float | None = None     # how long the record stays once done (None: forever)
    keep_failed_s: float | None = None  # ... once failed or cancelled, for inspection
    expires: float | None = None    # when the sweeper removes it (set when it ends)
    retries: int = 0                # times it was retried after failing
    counts: dict | None = None      # final progress counts, kept when it ends
    tallies: dict | None = None     # what its done invocations tallied, summed when it ends
    expected_s: float | None = None  # how long it should take: its ETA before anything ends

    @property
    def key(self) -> str:
        return keys.request(self.workflow, self.id)


@dataclass
class Invocation:
    id: str
    step: str
    kind: str = MAP             # MAP | REDUCE | PARTITION
    state: str = QUEUED
    # a mapper's argument pairs; a fan-out child's too big for etcd are in a blob, and this is
    # the blob's reference (mr.engine.blobs.store_arguments)
    arguments: list | str | None = None
    attempts: int = 0
    worker: str | None = None
    message_id: str | None = None   # the NSQ message that runs it: a redelivery may take over
    handler: str | None = None
    version: str | None = None
    children: int | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    error: str | None = None
    log: str | None = None          # what the handler printed or logged (bounded), if anything
    stderr: str | None = None       # what it wrote to stderr (a subprocess's), kept apart
    tallies: dict | None = None     # what the run tallied (ctx.tally), name -> int
    split: dict | None = None       # a data step's mapper: the input split it reads
    # a data step's mappers: how many partitions they write; 0 in a map-only step, whose
    # splits each write a part of the result instead
    partitions: int | None = None
    partition: int | None = None    # a PARTITION invocation: which one it reduces

    @property
    def parent(self) -> str | None:
        """The mapper invocation whose reducer consumes this one's output (None for the root)."""
        if self.kind == REDUCE:
            return reduced_of(self.id)
        return parent_of(self.id)

    @property
    def map_only(self) -> bool:
        """A map-only data step's root or split: its splits write parts of the result, not
        runs for a shuffle."""
        return self.partitions == 0

    @property
    def data_plane(self) -> bool:
        """A split's mapper or a partition's reducer: CPU-bound work over files."""
        return self.split is not None or self.kind == PARTITION


def as_shown(inv: Invocation, request_state: str) -> Invocation:
    """`inv` with the state a person should see. Its record keeps `waiting` or `queued` after
    its request failed or was cancelled (a retry goes on from those), but it will not finish."""
    if request_state in (FAILED, CANCELLED) and inv.state not in FINISHED_STATES:
        inv.state = STOPPED
    return inv


def child_id(parent: str, index: int) -> str:
    return f"{parent}.{index}"


def parent_of(iid: str) -> str | None:
    return iid.rsplit(".", 1)[0] if "." in iid else None


def index_of(child_iid: str) -> int:
    """Which of its parent's children an invocation is (child_id's index)."""
    return int(child_iid.rsplit(".", 1)[1])


def reduce_id(mapper_iid: str) -> str:
    return mapper_iid + REDUCE_SUFFIX


def reduced_of(reduce_iid: str) -> str:
    return reduce_iid[: -len(REDUCE_SUFFIX)]
