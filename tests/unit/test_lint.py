"""The code passes ruff (.ruff.toml: line length, pyflakes, import order, likely bugs, syntax).

Runs the `ruff` pinned in setup.py's test extra over every Python tree of the repository, so
an unused import, a line over 99 characters or imports out of order fail here with ruff's own
report of where.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TREES = ["mr", "tests", "benchmarks", "handlers", "resources", "setup.py",
         *sorted(str(path.relative_to(ROOT)) for path in (ROOT / "scripts").glob("*.py"))]


def test_ruff_finds_nothing() -> None:
    ruff = Path(sys.executable).with_name("ruff")
    result = subprocess.run([str(ruff), "check", "--no-cache", "--output-format", "concise",
                             *TREES], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, ("ruff check (.ruff.toml) found:\n"
                                    + result.stdout + result.stderr)
