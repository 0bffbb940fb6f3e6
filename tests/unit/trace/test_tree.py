"""mr.trace.tree and mr.trace.render over hand-made invocations (no etcd)."""
from __future__ import annotations

import pytest

from mr.kv.models import Invocation
from mr.trace import render
from mr.trace.tree import TraceError, build, sort_key

TRACE = "Traceback (most recent call last):\n  File \"x.py\", line 3\nValueError: boom"


def inv(iid: str, step: str = "s", state: str = "done", **kw) -> Invocation:
    kind = "reduce" if iid.endswith(".r") else "map"
    return Invocation(id=iid, step=step, kind=kind, state=state, created=100.0,
                      started=kw.pop("started", 100.5), finished=kw.pop("finished", 100.75),
                      handler=kw.pop("handler", f"h_{step}"), **kw)


def fan_out(n: int, failed: int | None = None) -> list[Invocation]:
    """A root that fanned out to n leaves plus its reduce invocation, in etcd key order."""
    leaves = [inv(f"0.{i}", "square", "failed" if i == failed else "done",
                  error=TRACE if i == failed else None, arguments=[[i, i]]) for i in range(n)]
    items = [inv("0", "squares", "waiting", children=n), *leaves, inv("0.r", "squares")]
    return sorted(items, key=lambda i: i.id)   # lexicographic, as etcd returns them


def test_children_in_numeric_order_reduce_last():
    tree = build(fan_out(12))
    assert [c.id for c in tree.root.children] == [f"0.{i}" for i in range(12)] + ["0.r"]
    assert tree.size == 14 and not tree.orphans


def test_nested_tree_walk_depths():
    items = [inv("0"), inv("0.0"), inv("0.0.0"), inv("0.0.1"), inv("0.0.r"), inv("0.1"),
             inv("0.r")]
    walked = [(d, n.id) for d, n in build(reversed(items)).walk()]
    assert walked == [(0, "0"), (1, "0.0"), (2, "0.0.0"), (2, "0.0.1"), (2, "0.0.r"),
                      (1, "0.1"), (1, "0.r")]


def test_sort_key():
    assert sorted(["0.r", "0.10", "0.9", "0.1.r", "0.1"], key=sort_key) == \
        ["0.1", "0.1.r", "0.9", "0.10", "0.r"]


def test_missing_root_and_orphans():
    with pytest.raises(TraceError, match="no root invocation"):
        build([inv("0.1")])
    with pytest.raises(TraceError, match="no invocation records"):
        build([])
    tree = build([inv("0"), inv("0.3.1")])
    assert [o.id for o in tree.orphans] == ["0.3.1"]
    assert "have no parent record: 0.3.1" in render.flat(tree)


def test_arguments_are_kept_only_as_preview():
    big = inv("0", arguments=[["k", "x" * 10_000]])
    tree = build([big])
    assert tree.root.inv.arguments is None
    assert len(tree.root.arguments) == 80 and tree.root.arguments.endswith("...")


def test_flat_marks_the_failed_invocation():
    text = render.flat(build(fan_out(3, failed=1)))
    lines = text.splitlines()
    assert lines[0] == "0 M squares h_squares waiting 250.0 ms"
    assert lines[1] == "  0.0 M square h_square done 250.0 ms"
    assert lines[2] == "  0.1 M square h_square failed 250.0 ms  <-- FAILED: ValueError: boom"
    assert lines[-1].startswith("  0.r R squares")


def test_detailed_shows_timings_worker_and_traceback():
    items = fan_out(2, failed=0)
    items[1].worker, items[1].attempts, items[1].version = "w1", 2, "abcdef0123456789"
    text = render.detailed(build(items), base=100.0)
    assert ("  0.0 [map] step=square handler=h_square@abcdef01 state=failed  *** FAILED ***"
            in text)
    assert ("    attempts=2 worker=w1 created=+0.000s started=+0.500s finished=+0.750s "
            "ran=250.0 ms") in text
    assert "      ValueError: boom" in text
    assert "arguments=[[0, 0]]" in text


def test_json_is_nested():
    data = render.as_json(build(fan_out(2, failed=1)))
    assert data["failed"] == ["0.1"] and data["invocations"] == 4
    assert [c["id"] for c in data["root"]["children"]] == ["0.0", "0.1", "0.r"]
    assert "arguments" not in data["root"]["children"][0]


def test_dot_source():
    source = render.dot(build(fan_out(2, failed=1)), "abcdefghijklmnop", "wf", "squares",
                        "failed")
    assert source.startswith("digraph request {") and source.rstrip().endswith("}")
    assert 'Q [shape=oval label="request abcdefghij  (failed)"]' in source
    assert 'J -> "I0" [label="root"]' in source
    assert '"I0" -> "I0.1" [label="mapped to"]' in source
    assert '"I0" -> "I0.r" [label="reduced by"]' in source
    failed_line = next(line for line in source.splitlines() if line.startswith('  "I0.1" ['))
    assert "ValueError: boom" in failed_line and "#c00000" in failed_line


def test_dot_quotes_hostile_text():
    assert render.quote('a "b"\\\nc') == '"a \\"b\\"\\\\\\nc"'
