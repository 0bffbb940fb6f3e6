"""The key layout: the only module that knows where anything lives in etcd.

    /mr/workflow/<wf>                         Workflow
    /mr/w/<wf>/def/job/<job>                  Job        } definitions: one watch on
    /mr/w/<wf>/def/step/<step>                Step       } /mr/w/<wf>/def/ keeps a worker's
    /mr/w/<wf>/def/handler/<handler>          Handler    } library current
    /mr/w/<wf>/request/<rid>                  Request (the front-ends watch this prefix)
    /mr/w/<wf>/r/<rid>/live                   exists exactly while the request runs
    /mr/w/<wf>/r/<rid>/inv/<iid>              Invocation
    /mr/w/<wf>/r/<rid>/out/<parent>/<iid>     output of <iid>, where its parent's reducer reads it
    /mr/w/<wf>/r/<rid>/fan/<iid>              number of children of a mapper that fanned out
    /mr/w/<wf>/r/<rid>/cnt/<iid>/<slot>       finished children of <iid>: the sum of the
                                              versions of its (at most 16) slot keys
    /mr/w/<wf>/r/<rid>/sess/<iid>/<key>       session of mapper invocation <iid>
    /mr/w/<wf>/r/<rid>/tally/<iid>            what <iid>'s committed run tallied (ctx.tally),
                                              written with its completion
    /mr/w/<wf>/r/<rid>/ix/<mark>/<iid>        progress marks (started, waiting, done, failed):
                                              count-only ranges give a subtree's counts
    /mr/w/<wf>/state/<state>/<job>/<ms>.<rid> requests by state and job, in creation order
                                              (lists and stats: count-only ranges)
    /mr/w/<wf>/name/<name>                    a named request: its id and arguments' digest
    /mr/w/<wf>/deadline/<epoch>/<rid>         when a request times out (the sweeper reads
                                              the keys whose time has come)
    /mr/w/<wf>/expire/<epoch>/<rid>           when an ended request is removed (retention)
    /mr/w/<wf>/purge/<epoch>/<rid>            a big done request whose keys its worker is
                                              deleting; from <epoch> on the sweeper finishes
                                              the job (the worker died meanwhile)
    /mr/workers/<worker-id>                   a live worker (under its lease)
    /mr/sweeper/<wf>                          the worker sweeping <wf> now (under its lease)

Everything a request owns except its record sits under /mr/w/<wf>/r/<rid>/, so cleanup is one
prefix delete.
"""
from __future__ import annotations

import re

ROOT = "/mr/"
ROOT_PARENT = "^"  # the "parent" of a request's root invocation in out/ keys

NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# A request id: 32 lowercase hex digits (mr.engine.submit.new_request_id). A request's name
# never has this shape, so wherever an id is taken a name may stand in for it.
REQUEST_ID_RE = re.compile(r"^[0-9a-f]{32}$")
MAX_TOPIC_PART = 27  # topic "mr.<wf>.<capability>.data" must fit NSQ's 64 characters


def check_name(kind: str, name: str, max_len: int = 64) -> str:
    """Names become key and topic parts: letters, digits, '_' and '-' only."""
    if not isinstance(name, str) or not NAME_RE.match(name) or len(name) > max_len:
        raise ValueError(f"invalid {kind} name {name!r}: use 1-{max_len} letters, digits, "
                         f"'_' or '-'")
    return name


def workflow(wf: str) -> str:
    return f"{ROOT}workflow/{wf}"


def workflows() -> str:
    return f"{ROOT}workflow/"


def definitions(wf: str) -> str:
    return f"{ROOT}w/{wf}/def/"


def definition(wf: str, kind: str, name: str) -> str:
    """kind is 'job', 'step' or 'handler'."""
    return f"{ROOT}w/{wf}/def/{kind}/{name}"


def definitions_of(wf: str, kind: str) -> str:
    return f"{ROOT}w/{wf}/def/{kind}/"


def workflow_data(wf: str) -> str:
    """Everything stored for a workflow except its record (deleted with the workflow)."""
    return f"{ROOT}w/{wf}/"


def requests(wf: str) -> str:
    return f"{ROOT}w/{wf}/request/"


def request(wf: str, rid: str) -> str:
    return f"{ROOT}w/{wf}/request/{rid}"


def request_id_of(key: str) -> str:
    return key.rsplit("/", 1)[1]


def request_data(wf: str, rid: str) -> str:
    return f"{ROOT}w/{wf}/r/{rid}/"


def live(wf: str, rid: str) -> str:
    return f"{ROOT}w/{wf}/r/{rid}/live"


def paused(wf: str, rid: str) -> str:
    """Exists while the request is paused (its value: when): no invocation starts then."""
    return f"{ROOT}w/{wf}/r/{rid}/paused"


def invocations(wf: str, rid: str) -> str:
    return f"{ROOT}w/{wf}/r/{rid}/inv/"


def invocation(wf: str, rid: str, iid: str) -> str:
    return f"{ROOT}w/{wf}/r/{rid}/inv/{iid}"


def attempt_log(wf: str, rid: str, iid: str, attempt: int) -> str:
    """What one attempt of an invocation printed: written while it runs long, and when it
    fails to be retried (the record's `log` keeps only the last attempt's)."""
    return f"{ROOT}w/{wf}/r/{rid}/log/{iid}/{attempt:04d}"


def attempt_logs(wf: str, rid: str, iid: str) -> str:
    return f"{ROOT}w/{wf}/r/{rid}/log/{iid}/"


def request_attempt_logs(wf: str, rid: str) -> str:
    """Prefix of every attempt log of a request (its trace document keeps them)."""
    return f"{ROOT}w/{wf}/r/{rid}/log/"


def status(wf: str, rid: str, iid: str) -> str:
    """A running handler's status message (ctx.status), kept after it ends."""
    return f"{ROOT}w/{wf}/r/{rid}/status/{iid}"


def statuses(wf: str, rid: str) -> str:
    return f"{ROOT}w/{wf}/r/{rid}/status/"


def outputs(wf: str, rid: str, parent: str) -> str:
    """Prefix of the outputs of every child of `parent`."""
    return f"{ROOT}w/{wf}/r/{rid}/out/{parent}/"


def output(wf: str, rid: str, parent: str | None, iid: str) -> str:
    return f"{ROOT}w/{wf}/r/{rid}/out/{parent or ROOT_PARENT}/{iid}"


def fanout(wf: str, rid: str, iid: str) -> str:
    return f"{ROOT}w/{wf}/r/{rid}/fan/{iid}"


def counters(wf: str, rid: str, iid: str) -> str:
    return f"{ROOT}w/{wf}/r/{rid}/cnt/{iid}/"


def counter(wf: str, rid: str, iid: str, slot: int) -> str:
    return f"{ROOT}w/{wf}/r/{rid}/cnt/{iid}/{slot:02d}"


def sessions(wf: str, rid: str) -> str:
    return f"{ROOT}w/{wf}/r/{rid}/sess/"


def session(wf: str, rid: str, iid: str) -> str:
    return f"{ROOT}w/{wf}/r/{rid}/sess/{iid}/"


def tallies(wf: str, rid: str) -> str:
    return f"{ROOT}w/{wf}/r/{rid}/tally/"


def tally(wf: str, rid: str, iid: str) -> str:
    return f"{ROOT}w/{wf}/r/{rid}/tally/{iid}"


# Progress marks: an invocation has each mark at most once (a re-run puts the same key), so
# counting keys is exact under redelivery. "waiting" is removed when the parent is done.
STARTED, WAITING_MARK, DONE_MARK, FAILED_MARK = "s", "w", "d", "f"
MARKS = (STARTED, WAITING_MARK, DONE_MARK, FAILED_MARK)


def marks_of(wf: str, rid: str) -> str:
    """Every progress mark of a request."""
    return f"{ROOT}w/{wf}/r/{rid}/ix/"


def marks(wf: str, rid: str, mark: str) -> str:
    return f"{marks_of(wf, rid)}{mark}/"


def mark(wf: str, rid: str, mark_name: str, iid: str) -> str:
    return f"{ROOT}w/{wf}/r/{rid}/ix/{mark_name}/{iid}"


def by_state(wf: str, state: str | None = None, job: str | None = None) -> str:
    """Prefix of the state index: every state, one state, or one state and job."""
    if state is None:
        return f"{ROOT}w/{wf}/state/"
    return f"{ROOT}w/{wf}/state/{state}/" + (f"{job}/" if job else "")


def state_entry(wf: str, state: str, job: str, created: float, rid: str) -> str:
    return f"{ROOT}w/{wf}/state/{state}/{job}/{int(created * 1000):013d}.{rid}"


def request_id_of_state_entry(key: str) -> str:
    return key.rsplit(".", 1)[1]


def name(wf: str, request_name: str) -> str:
    return f"{ROOT}w/{wf}/name/{request_name}"


def names(wf: str) -> str:
    return f"{ROOT}w/{wf}/name/"


def _timeline(wf: str, kind: str) -> str:
    return f"{ROOT}w/{wf}/{kind}/"


def _at(wf: str, kind: str, epoch: float, rid: str) -> str:
    return f"{ROOT}w/{wf}/{kind}/{int(epoch):012d}/{rid}"


def deadlines(wf: str) -> str:
    return _timeline(wf, "deadline")


def deadline(wf: str, epoch: float, rid: str) -> str:
    return _at(wf, "deadline", epoch, rid)


def expiries(wf: str) -> str:
    return _timeline(wf, "expire")


def expiry(wf: str, epoch: float, rid: str) -> str:
    return _at(wf, "expire", epoch, rid)


def purges(wf: str) -> str:
    return _timeline(wf, "purge")


def purge(wf: str, epoch: float, rid: str) -> str:
    return _at(wf, "purge", epoch, rid)


def timeline_until(prefix: str, epoch: float) -> str:
    """The range end that selects a timeline's keys due at or before `epoch`."""
    return f"{prefix}{int(epoch) + 1:012d}"


def sweeper(wf: str) -> str:
    return f"{ROOT}sweeper/{wf}"


def workers() -> str:
    return f"{ROOT}workers/"


def worker(worker_id: str) -> str:
    return f"{ROOT}workers/{worker_id}"
