"""mr_kv_request_{get,list,cleanup}: received requests and pruning what they left behind."""
from __future__ import annotations

import argparse
import json
import time
from typing import Any

from mr import config, fs
from mr.cli.common import stop_on_ctrl_c
from mr.cli.output import Output, add_request, add_workflow, fields_text, plain, script, table
from mr.data.files import delete_request_files, result_dir_path
from mr.engine import listing, progress, protocol
from mr.fs import traces
from mr.kv import entities, keys
from mr.kv.models import FAILED, REQUEST_STATES
from mr.kv.store import Store
from mr.trace.store import load_request

PREVIEW = 2000


def _get(kv: Store, args: argparse.Namespace) -> Output:
    data = plain(load_request(kv, args.workflow, args.request_id))
    data["live"] = protocol.request_live(kv, args.workflow, args.request_id)
    data["invocations_kept"] = kv.count(keys.invocations(args.workflow, args.request_id))
    shown = dict(data)
    failure = shown.pop("failure", None) or {}
    text = repr(shown["result"])
    shown["result"] = text if len(text) <= PREVIEW else text[:PREVIEW] + " ... (use --json)"
    lines = [fields_text(shown)]
    if failure:
        lines.append("failure:")
        lines.append("\n".join("    " + line for line in fields_text(failure).splitlines()))
    return Output(data, "\n".join(lines))


def _list_args(parser: argparse.ArgumentParser) -> None:
    add_workflow(parser)
    parser.add_argument("--state", choices=REQUEST_STATES)
    parser.add_argument("--job", help="only requests of this job")
    parser.add_argument("--name", help="only the request that holds this name")
    parser.add_argument("--limit", type=int, default=100,
                        help=f"at most this many, newest first (default 100, at most "
                             f"{listing.MAX_LIST})")


def _list(kv: Store, args: argparse.Namespace) -> Output:
    entities.require_workflow(kv, args.workflow)
    found = listing.list_requests(kv, args.workflow, args.state, args.job, args.limit,
                                  args.name)
    rows: list[dict[str, Any]] = [{"id": r.id, "job": r.job, "state": r.state, "name": r.name,
             "created": r.created, "finished": r.finished,
             "failed_at": (r.failure or {}).get("invocation") if r.state == FAILED else None}
            for r in found]
    human = [dict(r, created=_time(r["created"]), finished=_time(r["finished"])) for r in rows]
    text = table(human, ["id", "job", "state", "name", "created", "finished", "failed_at"],
                 empty=f"(no requests in {args.workflow})")
    more = len(rows) == max(args.limit, 1)
    if more:
        text += f"\n(showing the newest {len(rows)}; raise --limit to see more)"
    return Output({"requests": rows, "more": more}, text)


def _stats_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("workflow", nargs="?",
                        help="one workflow in detail (default: every workflow, a line each)")
    parser.add_argument("--watch", type=float, metavar="SECONDS",
                        help="print again every SECONDS until Ctrl-C (--json: a line each)")


def _stats(kv: Store, args: argparse.Namespace) -> Output:
    if args.watch is None:
        return _stats_now(kv, args.workflow)
    if args.watch <= 0:
        raise ValueError("--watch takes a positive number of seconds")
    stop_on_ctrl_c()
    while True:   # until Ctrl-C (exit 130)
        now = _stats_now(kv, args.workflow)
        print(json.dumps(now.data) if args.json
              else f"--- {time.strftime('%H:%M:%S')} ---\n{now.text}", flush=True)
        time.sleep(args.watch)


def _stats_now(kv: Store, workflow: str | None) -> Output:
    if workflow is None:
        rows = [{"workflow": w.name, **listing.stats(kv, w.name)["requests"]["total"]}
                for w in sorted(entities.list_workflows(kv), key=lambda w: w.name)]
        return Output({"workflows": rows}, "requests by state:\n" + table(
            rows, ["workflow", *REQUEST_STATES], empty="(no workflows)"))
    entities.require_workflow(kv, workflow)
    data = listing.stats(kv, workflow)
    rows = [{"job": job, **counts} for job, counts in data["requests"]["by_job"].items()]
    rows.append({"job": "(all)", **data["requests"]["total"]})
    lines = ["requests by state:", table(rows, ["job", *REQUEST_STATES])]
    running = data["running_invocations"]["by_job"]
    if running:
        inv_rows = [{"job": job, **counts} for job, counts in running.items()]
        lines += ["", "invocations of running requests:",
                  table(inv_rows, ["job", *progress.STATES])]
    return Output(data, "\n".join(lines))


def _time(epoch: float | None) -> str | None:
    return None if epoch is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def _cleanup_args(parser: argparse.ArgumentParser) -> None:
    add_request(parser)
    parser.add_argument("--simulate-only", "-s", action="store_true",
                        help="report what would be removed, write nothing")
    parser.add_argument("--force", action="store_true", help="clean up even a running request")


KIND_NAMES = {"inv": "invocations", "out": "outputs", "fan": "fan-out counters",
              "ix": "progress marks",
              "sess": "session keys", "live": "live markers", "cnt": "completion counters",
              "request": "request records"}


def _cleanup(kv: Store, args: argparse.Namespace) -> Output:
    wf, rid = args.workflow, args.request_id
    entities.require_workflow(kv, wf)
    counts = entities.request_footprint(kv, wf, rid)
    settings = config.load()
    wfs = fs.workflow_fs(settings, wf)
    kept = traces.find(wfs, rid)
    if not any(counts.values()) and kept is None:
        raise entities.EntityError(f"request {rid!r} does not exist in workflow {wf!r} "
                                   f"(nothing to clean up)")
    if counts.get("live") and not args.force:
        raise entities.EntityError(f"request {rid!r} is still running; use --force to remove "
                                   f"it anyway (its workers will drop their work)")
    if not args.simulate_only:
        entities.cleanup_request(kv, wf, rid)
        delete_request_files(wfs, rid, results=True,
                             outside=result_dir_path(settings.result_dir, wf, rid))
        if kept is not None:
            wfs.delete(kept)
    verb = "would remove" if args.simulate_only else "removed"
    lines = [f"{verb} {n} {KIND_NAMES.get(kind, f'keys under {kind}/')}"
             for kind, n in sorted(counts.items()) if n]
    if kept is not None:
        lines.append(f"{verb} its trace document {kept}")
    lines.append(f"{verb} {sum(counts.values())} key(s) of request {rid}"
                 + (" (simulated: nothing written)" if args.simulate_only else ""))
    return Output({"request": rid, "workflow": wf, "simulated": args.simulate_only,
                   "counts": counts, "total": sum(counts.values()), "trace_document": kept},
                  "\n".join(lines))


get = script("mr_kv_request_get", "Print a request: state, result, failure.", add_request, _get)
list_ = script("mr_kv_request_list", "List a workflow's requests, newest first, by state and "
               "job.", _list_args, _list)
stats = script("mr_request_stats", "Count a workflow's requests by state per job, and the "
               "invocations of its running requests by state; every workflow's requests "
               "without one.", _stats_args, _stats)
cleanup = script("mr_kv_request_cleanup", "Remove a request with its invocations, sessions and "
                 "data (the request record too).", _cleanup_args, _cleanup)
