"""mr_worker_list: the live workers (registered in etcd under a lease), what they serve."""
from __future__ import annotations

import argparse

from mr.cli.output import Output, script, table, when
from mr.engine.registry import live_workers
from mr.kv import entities, keys
from mr.kv.store import Store

COLUMNS = ["id", "host", "pid", "workflows", "capabilities", "concurrency", "version",
           "started"]


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workflow", help="only workers serving this workflow")
    parser.add_argument("--capability", help="only workers offering this capability")


def _list(kv: Store, args: argparse.Namespace) -> Output:
    if args.workflow:
        entities.require_workflow(kv, keys.check_name("workflow", args.workflow))
    if args.capability:
        keys.check_name("capability", args.capability)
    workers = [w for w in live_workers(kv)
               if (not args.workflow or args.workflow in w.get("workflows", ()))
               and (not args.capability or args.capability.lower() in w.get("capabilities", ()))]
    rows = [{**w, "workflows": ",".join(w.get("workflows", ())),
             "capabilities": ",".join(w.get("capabilities", ())),
             "started": when(w.get("started"))} for w in workers]
    wanted = " ".join(f"--{k} {v}" for k, v in (("workflow", args.workflow),
                                               ("capability", args.capability)) if v)
    empty = f"(no live workers{' with ' + wanted if wanted else ''})"
    return Output(workers, table(rows, COLUMNS, empty=empty))


main = script("mr_worker_list", "List the live workers: host, pid, workflows, capabilities, "
              "concurrency, version and start time.", _arguments, _list)
console = main.console
