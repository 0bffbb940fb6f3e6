"""Where the files mr ships beside its code are: gunicorn configs, page templates, static files.

They live in the source tree's top-level resources/ (not inside the package, so the code and
what it serves stay apart), and setup.py installs them as the package `mr.resources`. A
`pip install .` therefore finds them inside mr; a source checkout (on PYTHONPATH or installed
with `pip install -e .`) finds them next to mr. Nothing imports them: gunicorn loads its config
by path and the web view reads templates and static files as files.
"""
from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _resources() -> Path:
    installed = _PACKAGE / "resources"
    return installed if installed.is_dir() else _PACKAGE.parent / "resources"


RESOURCES = _resources()
GUNICORN_DEV = RESOURCES / "gunicorn_dev.py"
GUNICORN_PROD = RESOURCES / "gunicorn_prod.py"
TEMPLATE_DIR = RESOURCES / "templates"
STATIC_DIR = RESOURCES / "static"
