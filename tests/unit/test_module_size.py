"""No module of mr passes 400 lines: past that, a module holds more than one concept, and is
split along a seam between them (as mr.engine.protocol and request_protocol were)."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 400


def test_no_module_is_over_400_lines() -> None:
    sizes = {path.relative_to(ROOT): len(path.read_text(encoding="utf-8").splitlines())
             for path in (ROOT / "mr").rglob("*.py")}
    assert sizes
    over = {str(path): lines for path, lines in sizes.items() if lines > MAX_LINES}
    assert not over, f"modules over {MAX_LINES} lines (split them): {over}"
