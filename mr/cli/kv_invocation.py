"""mr_kv_invocation_{get,list}: a request's invocation records (kept when MR_CLEANUP=0)."""
from __future__ import annotations

import argparse

from mr.cli.output import Output, add_request, fields_text, plain, script, table
from mr.kv import keys
from mr.kv.client import KV
from mr.kv.models import Invocation, as_shown, decode
from mr.trace.store import invocations, require_trace
from mr.trace.tree import TraceError, sort_key


def _get_args(parser: argparse.ArgumentParser) -> None:
    add_request(parser)
    parser.add_argument("invocation_id", help='e.g. "0", "0.3", "0.r"')
    parser.add_argument("--log", action="store_true",
                        help="print only what the handler printed or logged")


def _get(kv: KV, args: argparse.Namespace) -> Output:
    request = require_trace(kv, args.workflow, args.request_id)
    entry = kv.get(keys.invocation(args.workflow, args.request_id, args.invocation_id))
    if entry is None:
        raise TraceError(f"invocation {args.invocation_id!r} does not exist in request "
                         f"{args.request_id!r}")
    data = plain(as_shown(decode(Invocation, entry.value), request.state))
    if args.log:
        text = data["log"] or f"(invocation {args.invocation_id} logged nothing)"
        return Output({"invocation": args.invocation_id, "log": data["log"]}, text.rstrip("\n"))
    return Output(data, fields_text(data))


def _list_args(parser: argparse.ArgumentParser) -> None:
    add_request(parser)
    parser.add_argument("--state", choices=("queued", "running", "waiting", "done", "failed", "stopped"))


COLUMNS = ["id", "kind", "step", "handler", "state", "attempts", "worker"]


def _list(kv: KV, args: argparse.Namespace) -> Output:
    request = require_trace(kv, args.workflow, args.request_id)
    rows = [{c: getattr(inv, c) for c in COLUMNS}
            for inv in invocations(kv, request)
            if not args.state or inv.state == args.state]
    rows.sort(key=lambda r: sort_key(r["id"]))
    return Output(rows, table(rows, COLUMNS))


get = script("mr_kv_invocation_get", "Print one invocation of a request.", _get_args, _get)
list_ = script("mr_kv_invocation_list", "List a request's invocations in id order.",
               _list_args, _list)
