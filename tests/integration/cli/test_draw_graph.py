"""mr_draw_invocation_graph on a nested request that really ran and failed two levels down:
the DOT source, a PNG and an SVG, each marking the failed invocation."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from tests.integration.cli.conftest import NESTED_FAILED_ID

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG = "{http://www.w3.org/2000/svg}"


def test_draw_nested_failed_request_as_dot_png_and_svg(run_script, nested_failed, tmp_path):
    _, wf, rid = nested_failed
    dot, png, svg = tmp_path / "r.dot", tmp_path / "r.png", tmp_path / "r.svg"
    ran = run_script("mr_draw_invocation_graph", wf, rid, "-o", str(dot), "--png", str(png),
                     "--svg", str(svg))
    assert ran.code == 0, ran.err
    assert ran.out.splitlines() == [f"wrote {dot}", f"wrote {png}", f"wrote {svg}"]

    source = dot.read_text()
    assert '"I0" -> "I0.1" [label="mapped to"]' in source
    assert f'"I0.1" -> "I{NESTED_FAILED_ID}" [label="mapped to"]' in source
    failed_line = next(line for line in source.splitlines()
                       if line.startswith(f'  "I{NESTED_FAILED_ID}" ['))
    assert 'class="failed"' in failed_line and "#c00000" in failed_line
    assert "FAILED: LookupError: leaf 11 is not allowed" in failed_line
    assert sum('class="failed"' in line for line in source.splitlines()) == 1

    assert png.read_bytes()[:8] == PNG_SIGNATURE

    root = ET.parse(svg).getroot()
    assert root.tag == f"{SVG}svg"
    failed = [g for g in root.iter(f"{SVG}g") if "failed" in g.get("class", "").split()]
    assert [g.find(f"{SVG}title").text for g in failed] == [f"I{NESTED_FAILED_ID}"]
    texts = " ".join(t.text or "" for t in failed[0].iter(f"{SVG}text"))
    assert "FAILED: LookupError: leaf 11 is not allowed" in texts
    assert failed[0].find(f"{SVG}polygon").get("fill") == "#f4b6b6"


def test_draw_svg_of_unknown_request_writes_nothing(run_script, nested_failed, tmp_path):
    _, wf, _ = nested_failed
    ran = run_script("mr_draw_invocation_graph", wf, "nope", "--svg", str(tmp_path / "x.svg"))
    assert ran.code == 2 and f"request 'nope' does not exist in workflow '{wf}'" in ran.err
    assert not (tmp_path / "x.svg").exists()
