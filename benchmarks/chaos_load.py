"""The soak's steady mix of requests, each with the outcome it must have, followed to its end.

Every request is checked against what it must give whatever was killed meanwhile: the exact
result of its arguments, or the failure its own handler causes on purpose, or (cancelled ones)
cancelled — or done with the exact result when it ended before the cancel reached it. A client
that loses its front-end asks again: a named request by POSTing its name again (it attaches),
any request by its id once it has one.
"""
from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

import requests

from mr import examples

CHAOS = "chaos"          # the soak's own workflow (benchmarks/handlers/chaos)
RETRY_S = 0.5            # between attempts when a front-end or etcd is away
WAIT_S = 10              # one long poll of GET /request/...?wait=
# the mix's map-only data job: one licence text cut into small splits, each line's words
TOKENS_JOB = "tokenize_licence"
TOKENS_INPUT = examples.CORPUS_DIR / "Apache-2.0"
TOKENS_SPLIT_BYTES = 2048


@dataclass
class Planned:
    """One request and the outcome it must have."""
    kind: str
    workflow: str
    job: str
    arguments: dict
    state: str = "done"                 # done | failed | cancelled
    result: object = None               # the exact result of a done request
    name: str | None = None
    cancel_after_s: float | None = None


def tree_total(groups: int, leaves: int) -> int:
    return sum(100 * g + j for g in range(groups) for j in range(leaves))


def plan(kind: str, rng: random.Random, serial: int, text: str) -> Planned:
    """A request of `kind` with arguments drawn from `rng`."""
    groups, leaves = rng.randint(2, 4), rng.randint(3, 6)
    tree = {"groups": groups, "leaves": leaves, "sleep": 0.02}
    done_tree = [["total", tree_total(groups, leaves)]]
    if kind == "tree":
        return Planned(kind, CHAOS, "tree", tree, result=done_tree)
    if kind == "named":
        return Planned(kind, CHAOS, "tree", tree, result=done_tree, name=f"soak-{serial}")
    if kind == "failing":
        fail = [rng.randrange(groups), rng.randrange(leaves)]
        return Planned(kind, CHAOS, "tree", {**tree, "fail": fail}, state="failed")
    if kind == "cancel":
        slow = {"groups": 4, "leaves": 10, "sleep": 0.3}
        return Planned(kind, CHAOS, "tree", slow, state="cancelled",
                       result=[["total", tree_total(4, 10)]], cancel_after_s=0.5)
    if kind == "squares":
        n = rng.randint(20, 200)
        return Planned(kind, examples.WORKFLOW, "squares", {"n": n},
                       result=[["sum", sum(i * i for i in range(n))]])
    if kind == "wordcount":
        lines = text.splitlines()
        start = rng.randrange(max(len(lines) - 400, 1))
        part = "\n".join(lines[start:start + 400])
        return Planned(kind, examples.WORKFLOW, "wordcount",
                       {"text": part, "lines_per_chunk": 40},
                       result=examples.count_locally(part))
    if kind == "files":
        return Planned(kind, examples.WORKFLOW, "wordcount_files", {},
                       result=examples.count_locally(text))
    if kind == "tokens":
        return Planned(kind, examples.WORKFLOW, TOKENS_JOB, {}, result=tokens_locally())
    raise ValueError(f"unknown kind {kind!r}")


KINDS = {"tree": 4, "named": 2, "failing": 2, "cancel": 1, "squares": 3, "wordcount": 2,
         "files": 1, "tokens": 1}


def tokens_locally() -> list:
    """What the map-only job must give: each non-blank line's words with the file they come
    from, in the file's order, however its splits ran (handlers/wordcount/tokenize_lines.py)."""
    path = TOKENS_INPUT.as_uri()
    lines = TOKENS_INPUT.read_text(encoding="utf-8").split("\n")
    return [[path, words] for words in (examples.WORD.findall(line.lower()) for line in lines)
            if words]


@dataclass
class Outcome:
    planned: Planned
    request_id: str | None = None
    state: str | None = None          # as ended; None: never ended (hanging) or never created
    problem: str | None = None        # why it is wrong, if it is
    posted: float = field(default_factory=time.monotonic)
    ended: float | None = None

    @property
    def seconds(self) -> float | None:
        return None if self.ended is None else self.ended - self.posted


class Refused(Exception):
    """The front-end refused what the soak sent: the soak itself is wrong, or the engine is."""


class Client:
    """Posts requests through nginx and follows each to its end, riding out outages."""

    def __init__(self, url: str, deadline: float):
        self.url, self.deadline = url, deadline
        self.session = requests.Session()

    def run(self, planned: Planned) -> Outcome:
        outcome = Outcome(planned)
        try:
            return self._run(planned, outcome)
        except Refused as exc:
            outcome.problem = str(exc)
            return outcome

    def _run(self, planned: Planned, outcome: Outcome) -> Outcome:
        body = self._post(planned, outcome)
        if body is None:
            return outcome
        outcome.request_id = body["request_id"]
        if planned.cancel_after_s is not None:
            time.sleep(planned.cancel_after_s)
            self._call("delete", f"/request/{planned.workflow}/{outcome.request_id}",
                       ok=(200, 409))
        ended = body if body.get("state", "running") != "running" else self._follow(outcome)
        if ended is None:
            outcome.problem = "never ended (hanging)"
            return outcome
        outcome.ended, outcome.state = time.monotonic(), ended["state"]
        outcome.problem = judge(planned, ended)
        if outcome.problem is None and planned.name:
            again = self._post(planned, Outcome(planned))   # the kept result, not a new run
            if again is None or again.get("request_id") != outcome.request_id:
                outcome.problem = f"POST of name {planned.name} again gave {again}"
        return outcome

    def _post(self, planned: Planned, outcome: Outcome) -> dict | None:
        params = {"blocking": "false", **({"name": planned.name} if planned.name else {})}
        reply = self._call("post", f"/job/{planned.workflow}/{planned.job}", ok=(200, 202),
                           params=params, json={"arguments": planned.arguments})
        if reply is None:
            outcome.problem = "never accepted (lost)"
        return reply

    def _follow(self, outcome: Outcome) -> dict | None:
        path = f"/request/{outcome.planned.workflow}/{outcome.request_id}"
        while time.monotonic() < self.deadline:
            body = self._call("get", path, ok=(200,), params={"wait": WAIT_S})
            if body is not None and body.get("state") != "running":
                return body
        return None

    def _call(self, method: str, path: str, ok: tuple[int, ...], **kwargs) -> dict | None:
        """The JSON answer once one of `ok` comes; None at the deadline. A 503 (etcd or the
        broker away) or a lost connection (a front-end killed) is asked again."""
        while time.monotonic() < self.deadline:
            try:
                reply = self.session.request(method, self.url + path, timeout=WAIT_S + 20,
                                             **kwargs)
            except requests.RequestException:
                time.sleep(RETRY_S)
                continue
            if reply.status_code in ok:
                return reply.json()
            if 400 <= reply.status_code < 500:
                raise Refused(f"{method.upper()} {path}: {reply.status_code} {reply.text[:200]}")
            time.sleep(RETRY_S)
        return None


def judge(planned: Planned, ended: dict) -> str | None:
    """Why an ended request is wrong, or None."""
    state = ended["state"]
    ended_first = planned.state == "cancelled" and state == "done"   # before the cancel came
    if state != planned.state and not ended_first:
        return f"ended {state}, expected {planned.state}: {ended.get('failure')}"
    if state == "failed":
        failure = ended.get("failure") or {}
        if failure.get("reason") != "handler" or "on purpose" not in str(failure):
            return f"failed for another reason: {failure}"
    if state == "done":
        got = ended.get("result")
        same = (dict(got) == planned.result if isinstance(planned.result, dict)
                else got == planned.result)
        if not same:
            return f"wrong result: {str(got)[:200]}"
    return None


class Load:
    """`clients` threads posting the mix until `stop_at`, each waiting for its request's end."""

    def __init__(self, url: str, clients: int, stop_at: float, deadline: float, seed: int):
        self.url, self.clients = url, clients
        self.stop_at, self.deadline = stop_at, deadline
        self.rng = random.Random(seed)
        self.outcomes: list[Outcome] = []
        self._lock = threading.Lock()
        self._serial = 0
        self._text = examples.corpus()

    def run(self) -> list[Outcome]:
        threads = [threading.Thread(target=self._client, name=f"client{i}", daemon=True)
                   for i in range(self.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(max(self.deadline - time.monotonic(), 0) + 60)
        return self.outcomes

    def _next(self) -> Planned:
        with self._lock:
            self._serial += 1
            kind = self.rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
            return plan(kind, self.rng, self._serial, self._text)

    def _client(self) -> None:
        client = Client(self.url, self.deadline)
        while time.monotonic() < self.stop_at:
            outcome = client.run(self._next())
            with self._lock:
                self.outcomes.append(outcome)
