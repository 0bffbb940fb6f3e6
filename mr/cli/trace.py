"""The tracing scripts: mr_get_invocation_graph, mr_get_invocation_flat_list,
mr_draw_invocation_graph and mr_get_request_sessions.

They read the request's records in etcd while it runs (or when the workers ran with
MR_CLEANUP=0), else the trace document its end kept (mr.fs.traces).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from mr import config, fs
from mr.cli.output import Output, add_request, fields_text, script, when
from mr.fs import WorkflowFS
from mr.kv import keys
from mr.kv.codec import unpack
from mr.kv.store import Store
from mr.trace import render
from mr.trace.graphviz import render_image
from mr.trace.store import load_tree, require_trace


def _wfs(args: argparse.Namespace) -> WorkflowFS:
    """The workflow's shared filesystem, where ended requests' trace documents are kept."""
    return fs.workflow_fs(config.load(), args.workflow)


def _request_header(request) -> str:
    took = (f" ({(request.finished - request.created) * 1000:.0f} ms)"
            if request.finished else "")
    header = {"request": request.id, "workflow": request.workflow, "job": request.job,
              "state": request.state, "created": when(request.created),
              "finished": when(request.finished) + took}
    failure = request.failure or {}
    if failure:
        header["failed at"] = (f"invocation {failure.get('invocation', '-')} "
                               f"({failure.get('reason', '?')}): {failure.get('message', '')}")
    return fields_text(header)


def _graph(kv: Store, args: argparse.Namespace) -> Output:
    request, tree = load_tree(kv, args.workflow, args.request_id, _wfs(args))
    text = (f"{_request_header(request)}\n\n{tree.size} invocation(s); times are relative to "
            f"the request's creation\n\n{render.detailed(tree, request.created)}")
    failure = request.failure or {}
    if failure.get("log"):
        text += "\n\nlog of the failed invocation:\n" + "\n".join(
            "    " + line for line in failure["log"].rstrip().splitlines())
    return Output({"request": {"id": request.id, "job": request.job, "state": request.state,
                               "created": request.created, "finished": request.finished,
                               "failure": request.failure},
                   "tree": render.as_json(tree)}, text)


def _flat(kv: Store, args: argparse.Namespace) -> Output:
    request, tree = load_tree(kv, args.workflow, args.request_id, _wfs(args))
    return Output(render.as_json(tree), render.flat(tree))


def _draw_args(parser: argparse.ArgumentParser) -> None:
    add_request(parser)
    parser.add_argument("-o", "--output", type=Path,
                        help="write the Graphviz source here (default: standard output)")
    parser.add_argument("--png", type=Path, help="also render a PNG with graphviz's dot")
    parser.add_argument("--svg", type=Path, help="also render an SVG with graphviz's dot (failed "
                                                 'nodes carry class="failed")')


def _draw(kv: Store, args: argparse.Namespace) -> Output:
    request, tree = load_tree(kv, args.workflow, args.request_id, _wfs(args))
    source = render.dot(tree, request.id, request.workflow, request.job, request.state)
    written = []
    if args.output:
        args.output.write_text(source)
        written.append(str(args.output))
    for fmt in ("png", "svg"):
        target = getattr(args, fmt)
        if target:
            render_image(source, target, fmt)
            written.append(str(target))
    text = "\n".join(f"wrote {path}" for path in written) if written else source.rstrip("\n")
    return Output({"dot": source, "written": written}, text)


def _sessions(kv: Store, args: argparse.Namespace) -> Output:
    require_trace(kv, args.workflow, args.request_id)
    prefix = keys.sessions(args.workflow, args.request_id)
    grouped: dict[str, dict] = {}
    for entry in kv.scan(prefix):
        iid, _, name = entry.key[len(prefix):].partition("/")
        grouped.setdefault(iid, {})[name] = unpack(entry.value)
    lines = []
    for iid, values in grouped.items():
        lines.append(f"Invocation: {iid}")
        lines += [f"  [{name}]: {value!r}" for name, value in values.items()]
    return Output(grouped, "\n".join(lines) or f"(no session keys in request "
                                              f"{args.request_id})")


graph = script("mr_get_invocation_graph", "Print a request's invocation tree with each "
               "invocation's step, handler, state, timings, attempts, worker and error.",
               add_request, _graph)
flat_list = script("mr_get_invocation_flat_list", "Print a request's invocation tree, one "
                   "indented line per invocation.", add_request, _flat)
draw = script("mr_draw_invocation_graph", "Write a request's invocation tree as Graphviz source "
              "(and optionally a PNG and an SVG).", _draw_args, _draw)
sessions = script("mr_get_request_sessions", "Print the session keys of a request's mapper "
                  "invocations.", add_request, _sessions)
