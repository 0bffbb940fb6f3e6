"""mr_kv_invocation_{get,list}: a request's invocation records, from etcd or, once its end
cleaned them up, from its trace document (mr.trace.store)."""
from __future__ import annotations

import argparse
import json
import time

from mr import config, fs
from mr.cli.common import stop_on_ctrl_c
from mr.cli.output import Output, add_request, fields_text, script, table
from mr.engine.results import invocation_output, no_output_why
from mr.kv import keys
from mr.kv.models import RUNNING, Invocation, decode
from mr.kv.store import Store
from mr.trace.store import require_trace, with_logs
from mr.trace.tree import TraceError, sort_key

FOLLOW_EVERY_S = 1.0


def _get_args(parser: argparse.ArgumentParser) -> None:
    add_request(parser)
    parser.add_argument("invocation_id", help='e.g. "0", "0.3", "0.r"')
    parser.add_argument("--log", action="store_true",
                        help="print only what the handler printed or logged")
    parser.add_argument("--follow", "-f", action="store_true",
                        help="with --log: print what it prints as it runs, until it ends")
    parser.add_argument("--output", action="store_true",
                        help="print its output instead: (key, value) pairs, one per line")
    parser.add_argument("--offset", type=int, default=0, help="with --output: the first pair")
    parser.add_argument("--limit", type=int, default=1000,
                        help="with --output: at most this many pairs (default 1000)")


def _get(kv: Store, args: argparse.Namespace) -> Output:
    wfs = fs.workflow_fs(config.load(), args.workflow)
    _, found = require_trace(kv, args.workflow, args.request_id, wfs)
    data = found.record(args.invocation_id)
    if data is None:
        raise TraceError(f"invocation {args.invocation_id!r} does not exist in request "
                         f"{args.request_id!r}")
    if args.output:
        return _output(kv, args, Invocation(**{k: v for k, v in data.items()
                                               if k != "attempt_logs"}), wfs)
    if args.follow:
        return _follow(kv, args)
    if args.log:
        return Output({"invocation": args.invocation_id, "log": data["log"],
                       "stderr": data.get("stderr"), "attempt_logs": data["attempt_logs"]},
                      _log_text(data).rstrip("\n"))
    shown = {k: v for k, v in data.items() if k != "attempt_logs"}
    return Output(data, fields_text(shown))


def _log_text(data: dict) -> str:
    """Each earlier attempt's log under its own heading, then the last (or running) one's."""
    earlier = [f"--- attempt {a['attempt']} ---\n{a['log']}" for a in data["attempt_logs"]
               if a["attempt"] < data["attempts"]]
    last = data["log"] or f"(invocation {data['id']} logged nothing)\n"
    if earlier:
        last = f"--- attempt {data['attempts']} ---\n{last}"
    if data.get("stderr"):   # kept apart: a subprocess's stderr, Python's sys.stderr
        last += f"--- stderr ---\n{data['stderr']}"
    return "".join(earlier) + last


def _follow(kv: Store, args: argparse.Namespace) -> Output:
    """Print the log as it grows (a line of the running attempt as soon as a worker writes it
    to etcd: every few seconds), until the invocation or its request ends."""
    shown, attempt = 0, None
    stop_on_ctrl_c()
    while True:
        request, _ = require_trace(kv, args.workflow, args.request_id)
        entry = kv.get(keys.invocation(args.workflow, args.request_id, args.invocation_id))
        if entry is None:
            raise TraceError(f"invocation {args.invocation_id!r} is gone")
        inv = decode(Invocation, entry.value)
        data = with_logs(kv, args.workflow, args.request_id, inv)
        if inv.attempts != attempt:
            if attempt is not None:
                print(f"--- attempt {inv.attempts} ---", flush=True)
            shown, attempt = 0, inv.attempts
        text = data["log"] or ""
        if len(text) > shown:
            print(text[shown:], end="", flush=True)
            shown = len(text)
        if inv.finished is not None or request.state != RUNNING:
            return Output(data, "")
        time.sleep(FOLLOW_EVERY_S)


def _output(kv: Store, args: argparse.Namespace, inv: Invocation, wfs: fs.WorkflowFS) -> Output:
    if args.offset < 0 or args.limit < 1:
        raise ValueError("--offset must be >= 0 and --limit >= 1")
    pairs = invocation_output(kv, wfs, args.workflow, args.request_id, inv)
    if pairs is None:
        raise TraceError(f"invocation {inv.id} has no stored output: {no_output_why(inv)}")
    shown = pairs[args.offset:args.offset + args.limit]
    rest = len(pairs) - args.offset - len(shown)
    text = "\n".join(json.dumps(pair) for pair in shown) + (
        f"\n({rest} more: --offset {args.offset + len(shown)})" if rest > 0 else "")
    return Output({"invocation": inv.id, "offset": args.offset, "total": len(pairs),
                   "pairs": shown}, text or "(no pairs)")


def _list_args(parser: argparse.ArgumentParser) -> None:
    add_request(parser)
    parser.add_argument("--state", choices=("queued", "running", "waiting", "done", "failed",
                                            "stopped"))


COLUMNS = ["id", "kind", "step", "handler", "state", "attempts", "worker"]


def _list(kv: Store, args: argparse.Namespace) -> Output:
    _, found = require_trace(kv, args.workflow, args.request_id,
                             fs.workflow_fs(config.load(), args.workflow))
    rows = [{c: getattr(inv, c) for c in COLUMNS}
            for inv in found.invocations()
            if not args.state or inv.state == args.state]
    rows.sort(key=lambda r: sort_key(r["id"]))
    return Output(rows, table(rows, COLUMNS))


get = script("mr_kv_invocation_get", "Print one invocation of a request.", _get_args, _get)
list_ = script("mr_kv_invocation_list", "List a request's invocations in id order.",
               _list_args, _list)
