"""Handler files that several test packages use, kept once in tests/support/handlers/.

mr_kv_handler_store syncs one directory into a workflow, so a package that uses some of them
syncs a copy of its own handler directory with the shared files it names added.
"""
from __future__ import annotations

import shutil
from pathlib import Path

SHARED = Path(__file__).resolve().parent / "handlers"


def combined(own: Path, shared: tuple[str, ...], target: Path) -> Path:
    """`own`'s handler files and the named shared handlers, copied into `target` (made anew)."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(own, target, ignore=shutil.ignore_patterns("__pycache__"))
    for name in shared:
        source = SHARED / f"{name}.py"
        if not source.is_file():
            raise ValueError(f"no shared handler {name!r}: tests/support/handlers/ has "
                             f"{sorted(p.stem for p in SHARED.glob('*.py'))}")
        if (target / source.name).exists():
            raise ValueError(f"{own} has its own {source.name}: rename it or drop {name!r} "
                             f"from the shared handlers it asks for")
        shutil.copy2(source, target / source.name)
    return target
