"""Run the workloads on one system: warm it up, time each run, check every answer, and read
the system's counters and its workers' peak memory around each workload."""
from __future__ import annotations

import hashlib
import json
import statistics
import threading
import time
from dataclasses import dataclass
from functools import partial

from benchmarks import measure, workloads
from benchmarks.workloads import Workload


@dataclass(frozen=True)
class Options:
    repeat: int = 3             # runs of each throughput workload...
    budget_s: float = 60.0      # ...fewer when the runs so far took longer than this
    latency_requests: int = workloads.LATENCY_REQUESTS
    load_requests: int = workloads.LOAD_REQUESTS  # all clients of a load workload together


class WrongAnswer(AssertionError):
    pass


def digest(answer) -> str:
    """A short fingerprint of an answer, equal across systems when their answers are equal."""
    if isinstance(answer, dict):
        answer = sorted(answer.items())
    return hashlib.sha256(json.dumps(answer).encode()).hexdigest()[:12]


def expected(workload: Workload, chunks: list[str]):
    if workload.kind in ("fanout", "nested"):
        return workloads.sum_of_squares(workload.parts)
    if workload.kind == "wordcount":
        return workloads.expected_words(chunks)
    raise ValueError(f"no single expected answer for {workload.kind}")


def check(workload: Workload, answer, want) -> None:
    if answer != want:
        shown = str(answer)[:120]
        raise WrongAnswer(f"{workload.label}: wrong answer {shown} (expected {str(want)[:120]})")


def _call(system, workload: Workload, chunks: list[str]):
    if workload.kind == "fanout":
        return system.fanout(workload.parts)
    if workload.kind == "nested":
        return system.nested(workload.parts)
    return system.wordcount(chunks)


def warm_up(system, chunks: list[str]) -> None:
    """One small run of each workload: code loaded, connections open, caches filled."""
    assert system.fanout(10) == workloads.sum_of_squares(10)
    assert system.nested(20) == workloads.sum_of_squares(20)
    assert system.single(3) == 9
    assert system.wordcount(chunks[:4]) == workloads.expected_words(chunks[:4])


def run_one(system, workload: Workload, chunks: list[str], options: Options) -> dict:
    """One row: timings, rates, checked answer and, where the system has them, its counters."""
    pids = system.worker_pids()
    rss_reset = measure.reset_peak_rss(pids)
    before = system.counters()
    processes = system.named_processes()
    cpu_before = measure.cpu_by_process(processes)
    seconds: list[float] = []
    row = {"workload": workload.label, "kind": workload.kind, "parts": workload.parts,
           "system": system.name, "load_1m": measure.load_average()[0]}
    try:
        if workload.kind == "latency":
            for i in range(options.latency_requests):
                started = time.perf_counter()
                answer = system.single(i)
                seconds.append(time.perf_counter() - started)
                check(workload, answer, i * i)
            row["answer"] = digest([i * i for i in range(options.latency_requests)])
        elif workload.kind == "load":
            wall = under_load(system, workload, options.load_requests, seconds)
            row["answer"] = digest([i * i for i in range(len(seconds))])
            row["requests_per_s"] = round(len(seconds) / wall, 1)
        else:
            want = expected(workload, chunks)
            while len(seconds) < options.repeat and (not seconds
                                                     or sum(seconds) < options.budget_s):
                started = time.perf_counter()
                answer = _call(system, workload, chunks)
                seconds.append(time.perf_counter() - started)
                check(workload, answer, want)
            row["answer"] = digest(answer)
    except Exception as exc:  # a failing system is reported, the others still run
        row["error"] = f"{exc.__class__.__name__}: {exc}"[:300]
    row["runs"] = len(seconds)
    if seconds:
        row.update(_timings(workload, seconds))
    after = system.counters()
    # a load workload's clients each sent one untimed request first
    sent = len(seconds) + (workload.clients if workload.kind == "load" and seconds else 0)
    invocations = workload.invocations() * sent
    if before and invocations:
        row["etcd_writes_per_invocation"] = round(
            (after["etcd_proposals"] - before["etcd_proposals"]) / invocations, 3)
        row["nsq_messages_per_invocation"] = round(
            (after["nsq_messages"] - before["nsq_messages"]) / invocations, 3)
    if sent:
        row.update(_cpu_per_part(measure.cpu_by_process(processes), cpu_before,
                                 sent * workload.parts))
    row["worker_peak_rss_mib"] = measure.peak_rss_mib(pids)
    row["peak_rss_since"] = "workload" if rss_reset else "start"
    return row


def _cpu_per_part(after: dict[str, float], before: dict[str, float], parts: int) -> dict:
    """The system's CPU per part (a request's one part, a chunk): in all and by process."""
    by_process = {name: round((after[name] - before.get(name, 0.0)) * 1000 / parts, 3)
                  for name in after}
    return {"cpu_ms_per_part": round(sum(by_process.values()), 2),
            "cpu_ms_per_part_by_process": by_process}


def under_load(system, workload: Workload, requests: int, seconds: list[float]) -> float:
    """`workload.clients` threads send one-part requests, each waiting for its answer before
    its next one, `requests` in all (the system's single() must be thread-safe); each
    request's seconds go to `seconds`. Every client first sends one untimed request (its
    connection opened), then all start together. The wall seconds of the timed part."""
    clients = workload.clients
    each = max(requests // clients, 1)
    errors: list[BaseException] = []
    lock = threading.Lock()

    def client(number: int, ready: threading.Barrier) -> None:
        mine: list[float] = []
        try:
            check(workload, system.single(number), number * number)
        except BaseException as exc:
            errors.append(exc)
        try:
            ready.wait()
        except threading.BrokenBarrierError:
            return
        try:
            for i in range(number * each, (number + 1) * each):
                started = time.perf_counter()
                answer = system.single(i)
                mine.append(time.perf_counter() - started)
                check(workload, answer, i * i)
        except BaseException as exc:
            errors.append(exc)
        with lock:
            seconds.extend(mine)

    wall = measure.released_together([partial(client, n) for n in range(clients)], timeout=300)
    if errors:
        raise errors[0]
    return wall


def _timings(workload: Workload, seconds: list[float]) -> dict:
    timings = {"seconds": [round(s, 4) for s in seconds],
               "p50_ms": round(measure.percentile(seconds, 0.5) * 1000, 1),
               "p99_ms": round(measure.percentile(seconds, 0.99) * 1000, 1)}
    if workload.kind == "latency":
        timings["requests_per_s"] = round(len(seconds) / sum(seconds), 1)
    elif workload.kind == "load":
        pass  # run_one sets requests_per_s from the wall time: the requests overlap
    elif workload.kind == "wordcount":
        timings["chunks_per_s"] = round(workload.parts / statistics.median(seconds), 1)
    else:
        timings["parts_per_s"] = round(workload.parts / statistics.median(seconds), 1)
    return timings


def run_all(names: list[str], create, plan: list[Workload], chunks: list[str],
            options: Options, workdir, progress=print) -> tuple[list[dict], list[dict]]:
    """Start every system, then run each workload on each in turn (so a change in the
    machine's load between workloads hits every system alike); stop them all at the end."""
    started, facts, rows = [], [], []
    try:
        for name in names:
            progress(f"{name}: starting")
            clock = time.perf_counter()
            system = create(name)
            started.append(system)
            system.start(workdir / name)
            warm_up(system, chunks)
            facts.append({"system": name, "describe": system.describe(),
                          "start_s": round(time.perf_counter() - clock, 2)})
        for workload in plan:
            for system in started:
                progress(f"  {workload.label}: {system.name} ...")
                rows.append(run_one(system, workload, chunks, options))
                progress(f"  {workload.label}: {system.name}: {_brief(rows[-1])}")
        return rows, facts
    finally:
        for system in reversed(started):
            try:
                system.stop()
            except Exception as exc:  # stop the others all the same
                progress(f"{system.name}: stopping failed: {exc}")


def _brief(row: dict) -> str:
    if "error" in row:
        return "ERROR " + row["error"]
    rate = next((f"{row[k]} {k.replace('_per_s', '/s')}" for k in
                 ("parts_per_s", "chunks_per_s", "requests_per_s") if k in row), "")
    return f"{rate}, p50 {row['p50_ms']} ms ({row['runs']} runs)"
