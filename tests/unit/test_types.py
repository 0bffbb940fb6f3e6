"""mr type-checks with mypy (.mypy.ini), every module of it.

Runs the `mypy` pinned in setup.py's test extra over this checkout's `mr`, so a new module, or
a change to a clean one, that mypy finds wrong fails here with mypy's report.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_mypy_finds_nothing() -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))  # this checkout's mr
    result = subprocess.run([sys.executable, "-m", "mypy", "--config-file",
                             str(ROOT / ".mypy.ini"),
                             "--cache-dir", os.devnull], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, ("mypy (.mypy.ini) found:\n"
                                    + result.stdout + result.stderr)
