"""A chaos soak: the scaled-out topology serving a steady mix of requests while its processes
are killed, paused and restarted and its messages duplicated.

    python -m benchmarks.chaos [--minutes 10] [--clients 4] [--fault-every 5] [--seed 1]
                               [--workdir DIR] [--json]

The topology is mr.topology's (3 etcd members, 2 brokers with mr_lookupd, 3 workers, 2
front-ends behind nginx) serving the example workflow and the soak's own (the failure tests'
handlers, tests/integration/reliability/handlers: a nested fan-out whose reducer notes each
run, and whose leaf fails on purpose when asked). Clients post nested fan-outs, named
requests (posted again once done: the kept result), requests that fail on purpose, cancels,
squares, word counts of a text and of files, and a map-only tokenizing of a file (the data
plane); benchmarks/chaos_faults.py injects one fault at a time meanwhile. After --minutes
the faults stop and every request is followed to its end.

It prints how many requests ended exactly as they must (the exact result, or the failure
they cause on purpose, or cancelled), how many were wrong, lost or still running at the end
(hanging), whether an invocation ran twice on a healthy process (a leaf of the tree may: its
claim commits with its outcome, so only one run counts), and the p50/p99 time from
POST to the end. Exit status 1 if any request was wrong, lost or hanging.
"""
from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks.chaos_faults import Faults
from benchmarks.chaos_load import (
    CHAOS,
    TOKENS_INPUT,
    TOKENS_JOB,
    TOKENS_SPLIT_BYTES,
    Load,
    Outcome,
)
from mr import examples
from mr.handlers import sync
from mr.kv import entities
from mr.kv.models import Job, Step, Workflow
from mr.queue.topics import topic as topic_name
from mr.topology import Ports, Topology, nginx_binary
from tests.support.chaos import Replayer, extra_runs, is_leaf, runs_of

REPO = Path(__file__).resolve().parents[1]
HANDLERS = REPO / "tests" / "integration" / "reliability" / "handlers"
DRAIN_S = 240          # after the faults stop, how long requests may take to end
SETTINGS = {
    "MR_WORKFLOW_NAMES": f"examples,{CHAOS}",
    "MR_MSG_TIMEOUT_S": "10",    # a paused worker's messages come back after this
    "MR_STALL_S": "30",          # a message lost some other way is published again after this
}


class SoakTopology(Topology):
    """mr.topology's processes, also serving the soak's workflow."""

    def define(self) -> None:
        super().define()
        kv = self.kv()
        try:
            if entities.get_workflow(kv, CHAOS) is None:
                entities.create_workflow(kv, Workflow(CHAOS, "the chaos soak's jobs"))
            sync.apply(kv, CHAOS, sync.plan(kv, CHAOS, HANDLERS))
            for step in ("root", "group", "leaf"):
                entities.save(kv, Step(CHAOS, step, mapper=f"tree_{step}", reducer="tally"))
            entities.save(kv, Job(CHAOS, "tree", "root", "a nested fan-out"))
            # a map-only data step of the example handlers (so in their workflow)
            entities.save(kv, Step(examples.WORKFLOW, TOKENS_JOB, "wordcount_tokenize_lines",
                                   None))
            entities.save(kv, Job(examples.WORKFLOW, TOKENS_JOB, TOKENS_JOB,
                                  inputs=[TOKENS_INPUT.as_uri()],
                                  split_bytes=TOKENS_SPLIT_BYTES))
        finally:
            kv.close()
        self.create_topics(CHAOS)


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 2)


def report(outcomes: list[Outcome], faults: Faults, copied: int, runs_log: Path,
           minutes: float) -> dict:
    wrong = [o for o in outcomes if o.problem and o.request_id and o.ended]
    lost = [o for o in outcomes if o.request_id is None]
    hanging = [o for o in outcomes if o.request_id and o.ended is None]
    twice = {}
    for o in outcomes:
        if o.planned.workflow == CHAOS and o.state == "done" and not o.problem:
            bad = extra_runs(runs_of(runs_log, o.request_id), faults.suspects, is_leaf)
            twice.update({f"{o.request_id} {iid}": pids for iid, pids in bad.items()})
    times = [o.seconds for o in outcomes if o.seconds is not None]
    return {
        "minutes": minutes,
        "requests": len(outcomes),
        "by_kind": dict(Counter(o.planned.kind for o in outcomes)),
        "as_expected": sum(1 for o in outcomes if o.ended and not o.problem),
        "ended": dict(Counter(o.state for o in outcomes if o.state)),
        "wrong": len(wrong), "lost": len(lost), "hanging": len(hanging),
        "reduced_twice_by_a_healthy_process": len(twice),
        "seconds_to_end": {"p50": percentile(times, 50), "p99": percentile(times, 99),
                           "max": round(max(times), 2) if times else None,
                           "mean": round(statistics.fmean(times), 2) if times else None},
        "faults": dict(faults.done), "fault_errors": faults.errors,
        "messages_duplicated": copied,
        "problems": [f"{o.planned.kind} {o.request_id}: {o.problem}"
                     for o in wrong + lost + hanging][:20]
                    + [f"ran twice: {k} {v}" for k, v in list(twice.items())[:5]],
    }


def render(summary: dict) -> str:
    t = summary["seconds_to_end"]
    lines = [
        f"chaos soak, {summary['minutes']:g} min: {summary['requests']} requests "
        f"({', '.join(f'{k} {v}' for k, v in sorted(summary['by_kind'].items()))})",
        f"  as expected {summary['as_expected']}  (ended: "
        f"{', '.join(f'{k} {v}' for k, v in sorted(summary['ended'].items()))})",
        f"  wrong {summary['wrong']}  lost {summary['lost']}  hanging {summary['hanging']}  "
        f"reduced twice by a healthy process {summary['reduced_twice_by_a_healthy_process']}",
        f"  time to end: p50 {t['p50']} s, p99 {t['p99']} s, max {t['max']} s",
        f"  faults: {', '.join(f'{k} {v}' for k, v in sorted(summary['faults'].items()))}; "
        f"{summary['messages_duplicated']} messages duplicated",
    ]
    lines += [f"  fault failed: {e}" for e in summary["fault_errors"]]
    lines += [f"  problem: {p}" for p in summary["problems"]]
    return "\n".join(lines)


def soak(base: Path, minutes: float, clients: int, fault_every: float, seed: int) -> dict:
    topology = SoakTopology(base, Ports.free(), extra_env=SETTINGS)
    print(f"starting the topology in {base} ...", file=sys.stderr)
    topology.start()
    replayer = None
    try:
        replayer = Replayer(topology.brokers[0], topic_name(CHAOS, "general"), copies=1,
                            seed=seed)
        stop_at = time.monotonic() + minutes * 60
        faults = Faults(topology, fault_every, float(SETTINGS["MR_MSG_TIMEOUT_S"]) + 2,
                        seed, until=stop_at).start()
        print(f"soaking for {minutes:g} min: {clients} clients, a fault every "
              f"{fault_every:g} s ...", file=sys.stderr)
        load = Load(topology.url, clients, stop_at, stop_at + DRAIN_S, seed)
        outcomes = load.run()
        faults.stop()
        return report(outcomes, faults, replayer.copied,
                      base / "data" / "tally_runs.log", minutes)
    finally:
        if replayer is not None:
            replayer.stop()
        topology.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.chaos", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="how long faults go on")
    parser.add_argument("--clients", type=int, default=4, help="requests in flight at once")
    parser.add_argument("--fault-every", type=float, default=5.0, metavar="SECONDS",
                        help="seconds between the end of one fault and the next")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path,
                        help="keep the topology's data and logs here (default: a temporary dir)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    if nginx_binary() is None:
        print("error: nginx is not installed (scripts/install installs it)", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    # The replayer's connection drops with every broker kill, by design: not news.
    for noisy in ("nsq", "mr.worker.nsqd_link"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory(prefix="mr-chaos-") as tmp:
        base = args.workdir or Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        summary = soak(base, args.minutes, args.clients, args.fault_every, args.seed)
    print(json.dumps(summary, indent=2) if args.json else render(summary))
    bad = summary["wrong"] + summary["lost"] + summary["hanging"]
    return 1 if bad or summary["reduced_twice_by_a_healthy_process"] else 0


if __name__ == "__main__":
    sys.exit(main())
