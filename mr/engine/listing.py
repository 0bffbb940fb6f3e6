"""Requests by state and job, and a workflow's counts — from the state index, not a scan.

Each request has one key under state/<state>/<job>/, moved when it ends or is retried, so a
count by state and job is one count-only range, and the newest requests of a state are the
last keys of a range.
"""
from __future__ import annotations

import heapq

from mr.engine import progress
from mr.kv import keys
from mr.kv.client import op_get
from mr.kv.codec import unpack
from mr.kv.models import REQUEST_STATES, RUNNING, Request, decode
from mr.kv.store import Store

MAX_LIST = 1000
STATS_RUNNING_LIMIT = 200  # running requests whose invocations the stats view adds up


def _newest_keys(kv: Store, prefix: str, limit: int) -> list[str]:
    entries, _, _ = kv.range(prefix, limit=limit, keys_only=True, descending=True)
    return [e.key for e in entries]


def request_id_of(kv: Store, wf: str, id_or_name: str) -> str:
    """The request id itself, or the id of the request a name holds (no work started).

    Request ids are 32 hex digits and names never are; anything else is looked up as a name
    first, and taken as an id when no request holds it (then "not found" follows).
    """
    if keys.REQUEST_ID_RE.match(id_or_name):
        return id_or_name
    entry = kv.get(keys.name(wf, id_or_name))
    return unpack(entry.value)["request_id"] if entry else id_or_name


def job_names(kv: Store, wf: str) -> list[str]:
    prefix = keys.definitions_of(wf, "job")
    return [e.key[len(prefix):] for e in kv.scan(prefix, keys_only=True)]


def list_requests(kv: Store, wf: str, state: str | None = None, job: str | None = None,
                  limit: int = 100, name: str | None = None) -> list[Request]:
    """The newest `limit` requests (by creation), optionally of one state and/or job, or the
    one a name holds."""
    if name is not None:
        named = _load(kv, wf, [request_id_of(kv, wf, name)])
        return [r for r in named if r.name == name and (state is None or r.state == state)
                and (job is None or r.job == job)]
    limit = max(1, min(limit, MAX_LIST))
    states = [state] if state else list(REQUEST_STATES)
    jobs = [job] if job else job_names(kv, wf)
    found = []
    for s in states:
        for j in jobs:
            found.extend(_newest_keys(kv, keys.by_state(wf, s, j), limit))
    # keys end in "<created ms>.<rid>": the newest across states and jobs come first
    newest = heapq.nlargest(limit, found, key=lambda k: k.rsplit("/", 1)[1])
    return _load(kv, wf, [keys.request_id_of_state_entry(k) for k in newest])


def _load(kv: Store, wf: str, request_ids: list[str]) -> list[Request]:
    requests = []
    for start in range(0, len(request_ids), 100):
        chunk = request_ids[start:start + 100]
        result = kv.txn([], [op_get(keys.request(wf, rid)) for rid in chunk])
        for i in range(len(chunk)):
            entry = result.entry(i)
            if entry is not None:
                requests.append(decode(Request, entry.value))
    return requests


def stats(kv: Store, wf: str) -> dict:
    """Requests by state per job (exact), and invocations by state over running requests."""
    jobs = job_names(kv, wf)
    pairs = [(s, j) for s in REQUEST_STATES for j in jobs]
    requests: dict[str, dict[str, int]] = {j: {s: 0 for s in REQUEST_STATES} for j in jobs}
    for start in range(0, len(pairs), 100):
        chunk = pairs[start:start + 100]
        result = kv.txn([], [op_get(keys.by_state(wf, s, j), prefix=True, count_only=True)
                             for s, j in chunk])
        for i, (s, j) in enumerate(chunk):
            requests[j][s] = result.count(i)
    invocations: dict[str, dict[str, int]] = {}
    running = list_requests(kv, wf, RUNNING, limit=STATS_RUNNING_LIMIT) if jobs else []
    for request in running:
        try:
            counts = progress.read(kv, wf, request.id).counts
        except progress.ProgressUnavailable:
            continue  # it ended meanwhile
        per_job = invocations.setdefault(request.job, {k: 0 for k in progress.STATES})
        for k, v in counts.items():
            per_job[k] += v
    totals = {s: sum(requests[j][s] for j in jobs) for s in REQUEST_STATES}
    return {"workflow": wf, "requests": {"total": totals, "by_job": requests},
            "running_invocations": {"by_job": invocations,
                                    "requests_counted": len(running),
                                    "complete": len(running) < STATS_RUNNING_LIMIT}}
