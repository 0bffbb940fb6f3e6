"""The graphviz drawing of a request for the web view, bounded for huge requests.

Up to FULL invocations the whole tree is drawn, as mr_draw_invocation_graph draws it. Above
that, the first levels only: at most FAN children per node down to DEPTH levels, the path to
the failed invocation always, and a dashed "… N more" box where children were left out.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from mr.kv.models import REDUCE, ROOT_INVOCATION, Request
from mr.trace import render
from mr.trace.graphviz import render_image
from mr.trace.store import Source
from mr.trace.tree import Tree, build, light
from mr.web import ui_data

FULL = 150
DEPTH = 3
FAN = 8


def limited_tree(found: Source) -> tuple[Tree, dict[str, int], int]:
    """(tree, hidden children count by node id, invocations in the request)."""
    request = found.request
    total = found.count()
    if total <= FULL:
        return build(found.invocations()), {}, total
    failed = (request.failure or {}).get("invocation")
    keep = set(ui_data.path_to(failed)) | ({failed} if failed else set())
    root_inv = ui_data.read_invocations(found, [ROOT_INVOCATION])[ROOT_INVOCATION]
    root = light(root_inv)
    hidden: dict[str, int] = {}
    size, level = 1, [(root, root_inv)]
    for _depth in range(DEPTH):
        following = []
        for node, inv in level:
            if inv.children is None:
                continue  # a leaf, a reduction, or a mapper still fanning out
            children = ui_data.child_page(found, node.id, 0, FAN, parent_inv=inv).nodes
            listed = {c.id for c in children}
            wanted = [k for k in keep if ui_data.path_to(k)[-1:] == [node.id]
                      and k not in listed]
            on_path = ui_data.read_invocations(found, wanted)
            children += [on_path[k] for k in wanted if k in on_path]
            for child in children:
                child_node = light(child)
                node.children.append(child_node)
                following.append((child_node, child))
            size += len(children)
            left = inv.children - sum(1 for c in children if c.kind != REDUCE)
            if left > 0:
                hidden[node.id] = left
        level = following
    for _, node in Tree(root).walk():  # numeric order, reduction last
        node.children.sort(key=lambda n: _order(n.id))
    return Tree(root, [], size), hidden, total


def _order(iid: str) -> tuple[int, int]:
    last = iid.rsplit(".", 1)[-1]
    return (0, int(last)) if last.isdigit() else (1, 0)


def dot_source(tree: Tree, hidden: dict[str, int], request: Request, total: int) -> str:
    source = render.dot(tree, request.id, request.workflow, request.job, request.state)
    extra = []
    for iid, count in hidden.items():
        more = render.node_name(iid + "+more")
        extra.append(f"  {more} [label={render.quote(f'… {count:,} more')} shape=note "
                     f'style=dashed color="#888888"];')
        extra.append(f"  {render.node_name(iid)} -> {more} [style=dashed];")
    if hidden:
        drawn = render.quote(f"{tree.size} of {total:,} invocations drawn")
        extra.append(f"  N [shape=plaintext label={drawn}];")
    return source.rstrip().removesuffix("}") + "\n".join(extra) + "\n}\n"


def svg(found: Source) -> bytes:
    """The drawing as SVG (graphviz's dot); mr.errors.UserError when dot is missing or
    fails."""
    tree, hidden, total = limited_tree(found)
    source = dot_source(tree, hidden, found.request, total)
    with tempfile.TemporaryDirectory(prefix="mr-ui-") as tmp:
        target = Path(tmp) / "graph.svg"
        render_image(source, target, "svg")
        return target.read_bytes()

