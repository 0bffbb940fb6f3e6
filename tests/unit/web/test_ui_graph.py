"""mr.web.ui_graph's bounded drawing of a big request, over hand-made invocations (no etcd)."""
from __future__ import annotations

from mr.kv.models import Invocation, Request, child_id, reduce_id
from mr.web import ui_graph


class Records:
    """Stands for mr.trace.store.Source: a done request's invocations, by id."""

    def __init__(self, invocations: list[Invocation], failure: dict | None = None):
        self.by_id = {inv.id: inv for inv in invocations}
        self.request = Request("wf", "r1", "job", [], state="done", failure=failure)

    def count(self) -> int:
        return len(self.by_id)

    def read(self, ids) -> dict[str, Invocation]:
        return {iid: self.by_id[iid] for iid in ids if iid in self.by_id}

    def invocations(self):
        return iter(self.by_id.values())


def two_levels(mappers: int, leaves: int) -> list[Invocation]:
    """A root that fanned out to `mappers` mappers, each fanned out to `leaves` leaves."""
    found = [Invocation("0", "top", children=mappers), Invocation(reduce_id("0"), "top",
                                                                   kind="reduce")]
    for i in range(mappers):
        mapper = child_id("0", i)
        found += [Invocation(mapper, "mid", children=leaves),
                  Invocation(reduce_id(mapper), "mid", kind="reduce")]
        found += [Invocation(child_id(mapper, j), "leaf") for j in range(leaves)]
    return found


def test_every_mapper_of_a_level_gets_its_first_children():
    # Above FULL invocations: each of the first FAN mappers shows FAN leaves, the rest hidden.
    tree, hidden, total = ui_graph.limited_tree(Records(two_levels(20, 10)))
    assert total == 2 + 20 * 12 > ui_graph.FULL
    mappers = tree.root.children
    assert [m.id for m in mappers] == [f"0.{i}" for i in range(ui_graph.FAN)]
    assert all([c.id for c in m.children] == [f"{m.id}.{j}" for j in range(ui_graph.FAN)]
               for m in mappers)
    assert hidden == {"0": 20 - ui_graph.FAN,
                      **{m.id: 10 - ui_graph.FAN for m in mappers}}
    assert tree.size == 1 + ui_graph.FAN + ui_graph.FAN * ui_graph.FAN


def test_the_path_to_the_failure_is_drawn_beyond_the_first_children():
    records = Records(two_levels(20, 10), failure={"invocation": "0.3.9"})
    tree, hidden, _ = ui_graph.limited_tree(records)
    third = tree.root.children[3]
    assert [c.id for c in third.children][-1] == "0.3.9"
    assert hidden["0.3"] == 10 - ui_graph.FAN - 1
