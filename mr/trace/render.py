"""Render an invocation tree: a one-line-per-invocation list, a detailed report, JSON, and
Graphviz source. Pure functions: they read only the Tree they are given."""
from __future__ import annotations

from dataclasses import asdict
from typing import Any

from mr.kv.models import MAP
from mr.trace.tree import Node, Tree

INDENT = "  "


def offset(at: float | None, base: float | None) -> str:
    if at is None:
        return "-"
    return f"+{at - base:.3f}s" if base is not None else f"{at:.3f}"


def ran(node: Node) -> str | None:
    inv = node.inv
    if inv.started is None or inv.finished is None:
        return None
    return f"{(inv.finished - inv.started) * 1000:.1f} ms"


def last_line(error: str | None) -> str:
    lines = [line for line in (error or "").strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def kind_letter(node: Node) -> str:
    return "M" if node.inv.kind == MAP else "R"


def flat(tree: Tree) -> str:
    """One line per invocation, two spaces per level: id, M/R, step, handler, state, time."""
    lines = []
    for depth, node in tree.walk():
        inv = node.inv
        line = (f"{INDENT * depth}{inv.id} {kind_letter(node)} {inv.step} "
                f"{inv.handler or '-'} {inv.state}")
        if ran(node):
            line += f" {ran(node)}"
        if node.failed:
            line += f"  <-- FAILED: {last_line(inv.error)}"
        lines.append(line)
    lines += _orphan_note(tree)
    return "\n".join(lines)


def detailed(tree: Tree, base: float | None = None) -> str:
    """Every invocation with step, handler and version, state, timings, attempts, worker and,
    for the failed one, its whole traceback. Times are relative to `base` (request created)."""
    lines = []
    for depth, node in tree.walk():
        inv, pad = node.inv, INDENT * depth
        handler = f"{inv.handler}@{inv.version[:8]}" if inv.handler and inv.version else (
            inv.handler or "-")
        marker = "  *** FAILED ***" if node.failed else ""
        lines.append(f"{pad}{inv.id} [{inv.kind}] step={inv.step} handler={handler} "
                     f"state={inv.state}{marker}")
        detail = (f"attempts={inv.attempts} worker={inv.worker or '-'} "
                  f"created={offset(inv.created, base)} started={offset(inv.started, base)} "
                  f"finished={offset(inv.finished, base)}")
        if ran(node):
            detail += f" ran={ran(node)}"
        if inv.children is not None:
            detail += f" children={inv.children}"
        lines.append(f"{pad}    {detail}")
        if node.arguments:
            lines.append(f"{pad}    arguments={node.arguments}")
        if inv.error:
            lines.append(f"{pad}    error:")
            lines += [f"{pad}      {line}" for line in inv.error.rstrip().splitlines()]
    lines += _orphan_note(tree)
    return "\n".join(lines)


def _orphan_note(tree: Tree) -> list[str]:
    if not tree.orphans:
        return []
    return [f"(note: {len(tree.orphans)} invocation(s) shown at top level have no parent "
            f"record: {', '.join(o.id for o in tree.orphans[:10])})"]


def node_json(node: Node) -> dict[str, Any]:
    data = asdict(node.inv)
    data.pop("arguments", None)
    data["arguments_preview"] = node.arguments
    data["children"] = [node_json(child) for child in node.children]
    return data


def as_json(tree: Tree) -> dict[str, Any]:
    return {"root": node_json(tree.root), "orphans": [node_json(o) for o in tree.orphans],
            "invocations": tree.size, "failed": [n.id for n in tree.failed()]}


def quote(text: str) -> str:
    """A Graphviz double-quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def node_name(iid: str) -> str:
    return quote("I" + iid)


# A failed node is red and carries class="failed" (a CSS class in SVG output), so tools and
# tests find it without matching colours.
STYLE = {"done": 'style=filled fillcolor="#d9f2d9"',
         "failed": 'style=filled fillcolor="#f4b6b6" color="#c00000" penwidth=2 '
                   'class="failed"',
         "running": 'style=filled fillcolor="#fff2b3"',
         "waiting": 'style=filled fillcolor="#fff2b3"',
         "queued": 'style=dashed color="#888888"',
         "stopped": 'style="filled,dashed" fillcolor="#eeeeee" color="#888888"'}


def dot(tree: Tree, request_id: str, workflow: str, job: str, state: str) -> str:
    """Graphviz source: request -> job -> root mapper; mappers -> children ("mapped to") and
    -> their reduce invocation ("reduced by"). The failed invocation is red and shows its error."""
    lines = ["digraph request {", "  rankdir=TB;", '  node [shape=box fontname="Helvetica"];',
             f"  Q [shape=oval label={quote(f'request {request_id[:10]}  ({state})')}];",
             f"  W [shape=oval label={quote(f'workflow {workflow}')}];",
             f"  J [shape=oval label={quote(f'job {job}')}];",
             '  Q -> W [label="resolve workflow"];',
             '  W -> J [label="resolve job"];',
             f"  J -> {node_name(tree.root.id)} [label=\"root\"];"]
    for _, node in tree.walk():
        inv = node.inv
        label = (f"{inv.step}\n{inv.handler or '?'}\n"
                 f"{'MI' if inv.kind == MAP else 'RI'} {inv.id}\n{inv.state}")
        if ran(node):
            label += f" {ran(node)}"
        if node.failed:
            label += "\nFAILED: " + last_line(inv.error)[:120]
        lines.append(f"  {node_name(inv.id)} [label={quote(label)} "
                     f"{STYLE.get(inv.state, '')}];")
        for child in node.children:
            verb = "mapped to" if child.inv.kind == MAP else "reduced by"
            lines.append(f"  {node_name(inv.id)} -> {node_name(child.id)} [label={quote(verb)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
