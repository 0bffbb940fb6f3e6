"""mr_request_{status,retry,rerun,pause,resume,cancel,result}: follow a request's progress,
retry it, re-run parts of it, pause, resume or cancel it, read its result."""
from __future__ import annotations

import argparse
import json
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from mr import config, fs
from mr.cli.common import stop_on_ctrl_c
from mr.cli.output import Output, add_request, fields_text, script
from mr.cli.progress_bar import ProgressLine, duration
from mr.engine import buckets, control, registry, rerun
from mr.engine import progress as tracker
from mr.engine.results import page
from mr.handlers.library import Library
from mr.kv import entities, keys
from mr.kv.models import DONE, Request, decode
from mr.kv.store import Store
from mr.notify import Notifier
from mr.queue.publisher import Publisher
from mr.units import tally_text


def progress_text(p: tracker.Progress) -> str:
    c = p.counts
    parts = [f"{c['done']}/{p.total} done"]
    parts += [f"{c[k]} {k}" for k in ("running", "waiting", "queued", "failed", "skipped")
              if c.get(k)]
    timing = f"{duration(p.elapsed_s)} elapsed"
    if p.eta_s is not None:
        timing += f", about {duration(p.eta_s)} left"
    latest = f" | {p.status[0]['invocation']}: {p.status[0]['message']}" if p.status else ""
    return f"{p.state}: {', '.join(parts)} | {timing}{latest}"


def _status_args(parser: argparse.ArgumentParser) -> None:
    add_request(parser)
    parser.add_argument("--invocation", default="0",
                        help="progress of this invocation's subtree (default: the whole request)")
    parser.add_argument("--watch", action="store_true",
                        help="follow it live (a progress bar; plain lines when not on a "
                             "terminal) until it ends")
    parser.add_argument("--children", action="store_true",
                        help="its children grouped by how far along each is: not started, "
                             "1-25%%, 26-75%%, 76-99%%, done, failed")


def _status(kv: Store, args: argparse.Namespace) -> Output:
    entities.require_workflow(kv, args.workflow)
    try:
        if args.children:
            return _children(kv, args)
        if not args.watch or args.json:
            found = tracker.read(kv, args.workflow, args.request_id, args.invocation)
            return Output(found.as_dict(), _status_text(found))
        stop_on_ctrl_c()
        line = ProgressLine()
        latest: tracker.Progress | None = None
        for latest in tracker.follow(kv, args.workflow, args.request_id, args.invocation):
            line.show(latest.percent / 100, progress_text(latest))
        assert latest is not None  # follow() yields the progress as it is first
        line.finish(latest.percent / 100, progress_text(latest))
        return Output(latest.as_dict(), f"request {latest.request_id} {latest.state} after "
                                        f"{duration(latest.elapsed_s)}")
    except tracker.ProgressUnavailable as exc:
        raise ValueError(str(exc)) from None


CHILDREN_SHOWN = 10   # ids listed per bucket in text (--json has them all)


def _children(kv: Store, args: argparse.Namespace) -> Output:
    found = buckets.by_progress(kv, args.workflow, args.request_id, args.invocation)
    lines = [f"{found['children']} children of {args.invocation}:"]
    for name, ids in found["buckets"].items():
        shown = ", ".join(ids[:CHILDREN_SHOWN]) + (
            f", ... ({len(ids) - CHILDREN_SHOWN} more)" if len(ids) > CHILDREN_SHOWN else "")
        lines.append(f"  {name:<12} {len(ids):>6}  {shown}")
    return Output(found, "\n".join(lines))


def _status_text(p: tracker.Progress) -> str:
    shown = {"request": p.request_id, "invocation": p.invocation, "state": p.state,
             "progress": f"{p.percent:.1f}% ({p.counts['done']} of {p.total} invocations done)",
             **{k: v for k, v in p.counts.items()},
             "started": p.started, "elapsed": duration(p.elapsed_s),
             "eta": duration(p.eta_s) if p.eta_s is not None else None,
             **{f"tally {name}": tally_text(name, n) for name, n in (p.tallies or {}).items()}}
    return fields_text(shown)


def _retry_args(parser: argparse.ArgumentParser) -> None:
    add_request(parser)
    parser.add_argument("--nsqd-http-address", action="append",
                        help="broker HTTP address to publish to (repeatable; default "
                             "$MR_NSQD_HTTP_HOSTS)")


@contextmanager
def _publishing(kv: Store, args: argparse.Namespace
                ) -> Iterator[tuple[Library, Publisher, config.Settings]]:
    """What re-queueing a request's work takes: the workflow's library (definitions only), a
    publisher (--nsqd-http-address, else MR_NSQD_HTTP_HOSTS) and the settings; a refusal is a
    user error."""
    entities.require_workflow(kv, args.workflow)
    settings = config.load()
    library = Library(kv, args.workflow, compile_code=False).start()
    try:
        yield (library, Publisher.from_settings(settings, args.nsqd_http_address),
               settings)
    except control.ControlError as exc:
        raise ValueError(str(exc)) from None
    finally:
        library.stop()


def _retry(kv: Store, args: argparse.Namespace) -> Output:
    with _publishing(kv, args) as (library, publisher, settings):
        request, requeued = control.retry(kv, publisher, library, args.request_id, settings)
    return Output({"request_id": request.id, "state": request.state, "requeued": requeued,
                   "retries": request.retries},
                  f"request {request.id} is running again: {requeued} invocation(s) re-queued "
                  f"(retry {request.retries}); follow it with mr_request_status "
                  f"{args.workflow} {request.id} --watch")


def _rerun_args(parser: argparse.ArgumentParser) -> None:
    _retry_args(parser)
    parser.add_argument("invocations", nargs="+", metavar="INVOCATION",
                        help="invocation ids whose subtrees run again (e.g. 0.2 0.1.3)")


def _rerun(kv: Store, args: argparse.Namespace) -> Output:
    with _publishing(kv, args) as (library, publisher, settings):
        request, chosen = rerun.rerun(kv, publisher, library, args.request_id,
                                      args.invocations, settings)
    return Output({"request_id": request.id, "state": request.state, "rerun": chosen},
                  f"request {request.id} is running again: the subtrees of "
                  f"{', '.join(chosen)} and what depends on them; follow it with "
                  f"mr_request_status {args.workflow} {request.id} --watch")


def _pause(kv: Store, args: argparse.Namespace) -> Output:
    entities.require_workflow(kv, args.workflow)
    try:
        request = control.pause(kv, args.workflow, args.request_id)
    except control.ControlError as exc:
        raise ValueError(str(exc)) from None
    return Output({"request_id": request.id, "state": "paused"},
                  f"request {request.id} is paused: what runs finishes, nothing new starts; "
                  f"go on with mr_request_resume {args.workflow} {request.id}")


def _resume(kv: Store, args: argparse.Namespace) -> Output:
    with _publishing(kv, args) as (library, publisher, _):
        request, published = control.resume(kv, publisher, library, args.request_id,
                                            lambda worker: registry.is_alive(kv, worker))
    return Output({"request_id": request.id, "state": request.state, "published": published,
                   "deadline": request.deadline},
                  f"request {request.id} goes on: {published} invocation(s) published again")


def _cancel(kv: Store, args: argparse.Namespace) -> Output:
    entities.require_workflow(kv, args.workflow)
    notifier = Notifier.from_settings(config.load())  # this script ends it, so it notifies
    try:
        request = control.cancel(kv, args.workflow, args.request_id,
                                 f"mr_request_cancel on {socket.gethostname()}", notifier,
                                 args.reason)
    except control.ControlError as exc:
        raise ValueError(str(exc)) from None
    finally:
        notifier.close()
    return Output({"request_id": request.id, "state": request.state, "counts": request.counts},
                  f"request {request.id} cancelled ({(request.counts or {}).get('done', 0)} "
                  f"invocation(s) had finished; retry it with mr_request_retry)")


RESULT_PAGE = 10_000


def _result_args(parser: argparse.ArgumentParser) -> None:
    add_request(parser)
    parser.add_argument("--offset", type=int, default=0, help="skip this many pairs first")
    parser.add_argument("--limit", type=int, default=None, help="print at most this many")


def _result(kv: Store, args: argparse.Namespace) -> Output:
    """Stream a done request's pairs to stdout, one JSON array [key, value] a line, a page
    at a time: a data job's result may be far bigger than memory."""
    if args.offset < 0 or (args.limit is not None and args.limit < 0):
        raise ValueError("--offset and --limit must be >= 0")
    entities.require_workflow(kv, args.workflow)
    entry = kv.get(keys.request(args.workflow, args.request_id))
    if entry is None:
        raise ValueError(f"request {args.request_id!r} does not exist in workflow "
                         f"{args.workflow!r} (mr_kv_request_list {args.workflow} lists them)")
    request = decode(Request, entry.value)
    if request.state != DONE:
        raise ValueError(f"request {request.id} is {request.state}: only a done request has a "
                         f"result (mr_request_status {args.workflow} {request.id})")
    wfs = fs.workflow_fs(config.load(), args.workflow)
    offset, left = args.offset, args.limit
    while left is None or left > 0:
        found, total = page(request, wfs, offset, min(RESULT_PAGE, left or RESULT_PAGE))
        if not found:
            break
        sys.stdout.write("".join(json.dumps(pair, ensure_ascii=False) + "\n" for pair in found))
        offset += len(found)
        left = None if left is None else left - len(found)
    sys.stdout.flush()
    return Output(None, "")


status = script("mr_request_status", "Show how far a request (or an invocation's subtree) has "
                "got: counts by state, percent done, elapsed time and an estimate of the time "
                "left.", _status_args, _status)
retry = script("mr_request_retry", "Run a failed or cancelled request again: only its failed "
               "and unfinished invocations are re-queued; finished results are kept.",
               _retry_args, _retry)
rerun_script = script("mr_request_rerun", "Run chosen invocations of an ended request (done, "
                      "failed or cancelled) again, with everything below them, and reduce "
                      "what depends on them up to a new result; the rest keeps its outputs.",
                      _rerun_args, _rerun)
pause = script("mr_request_pause", "Pause a running request: invocations already running "
               "finish, nothing new starts until mr_request_resume.", add_request, _pause)
resume = script("mr_request_resume", "Resume a paused request: its deadline moves by the "
                "pause, and what it has left is published again.", _retry_args, _resume)


def _cancel_args(parser: argparse.ArgumentParser) -> None:
    add_request(parser)
    parser.add_argument("--reason", help="why, kept in the request's failure record")


cancel = script("mr_request_cancel", "Cancel a running request: queued work is dropped and the "
                "outputs of running handlers are discarded.", _cancel_args, _cancel)
result = script("mr_request_result", "Print a done request's result, one JSON line [key, "
                "value] per pair, streamed a page at a time (a data job's part files "
                "included).", _result_args, _result, json_flag=False)
