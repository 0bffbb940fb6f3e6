"""mr's import layers (written down in .importlinter) hold: no upward import, no cycle.

Runs import-linter's `lint-imports` on this checkout's `mr`, so a change that makes the
broker's core import its TCP side, the engine import the web front-end, or two modules of a
package import each other fails here with import-linter's report of the offending chain.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_layers_hold() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))  # this checkout's mr
    result = subprocess.run([str(lint_imports), "--no-cache", "--no-logo",
                             str(ROOT / ".importlinter")], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (
        "an import breaks mr's layers (.importlinter; README's design notes say why):\n"
        + result.stdout + result.stderr)
