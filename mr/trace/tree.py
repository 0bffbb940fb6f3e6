"""The invocation tree of one request, built from invocation ids alone.

Ids encode the shape: root "0", children "<parent>.<i>", and "<mapper>.r" for the reduce
invocation of a mapper that fanned out, which hangs under that mapper after its children.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from mr.kv.models import FAILED, REDUCE_SUFFIX, ROOT_INVOCATION, Invocation

PREVIEW = 80


class TraceError(ValueError):
    """The records do not make a tree (no root), or the request has none left."""


@dataclass
class Node:
    inv: Invocation
    arguments: str | None = None            # a short preview; full arguments are not kept
    children: list[Node] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.inv.id

    @property
    def failed(self) -> bool:
        return self.inv.state == FAILED


@dataclass
class Tree:
    root: Node
    orphans: list[Node] = field(default_factory=list)  # records whose parent record is missing
    size: int = 0

    def walk(self) -> Iterator[tuple[int, Node]]:
        """(depth, node) in display order: depth first, children in id order, reduce last."""
        stack = [(0, node) for node in reversed([self.root, *self.orphans])]
        while stack:
            depth, node = stack.pop()
            yield depth, node
            stack.extend((depth + 1, child) for child in reversed(node.children))

    def failed(self) -> list[Node]:
        return [node for _, node in self.walk() if node.failed]


def sort_key(iid: str) -> tuple:
    """Numeric order of each id part ("0.10" after "0.9"); a reduce id after every child."""
    return tuple((1, 0) if part == REDUCE_SUFFIX[1:] else (0, int(part) if part.isdigit()
                                                            else 0) for part in iid.split("."))


def preview(value: object) -> str | None:
    if value is None:
        return None
    text = repr(value)
    return text if len(text) <= PREVIEW else text[:PREVIEW - 3] + "..."


def light(inv: Invocation) -> Node:
    """A node that keeps only a preview of the invocation's arguments (bounded memory)."""
    arguments, inv.arguments = preview(inv.arguments), None
    return Node(inv, arguments)


def build(invocations: Iterable[Invocation]) -> Tree:
    """Link invocations into a tree by their ids; raise TraceError when there is no root."""
    nodes: dict[str, Node] = {}
    for inv in invocations:
        nodes[inv.id] = light(inv)
    if not nodes:
        raise TraceError("no invocation records")
    root = nodes.get(ROOT_INVOCATION)
    if root is None:
        raise TraceError(f"no root invocation {ROOT_INVOCATION!r} among {len(nodes)} records")
    orphans: list[Node] = []
    for iid in sorted(nodes, key=sort_key):
        if iid == ROOT_INVOCATION:
            continue
        parent = nodes.get(nodes[iid].inv.parent or "")
        (parent.children if parent else orphans).append(nodes[iid])
    return Tree(root, orphans, len(nodes))
