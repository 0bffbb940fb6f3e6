"""A non-editable install (`pip install .`) carries resources/ along as mr.resources.

In the source tree the gunicorn configs, page templates and static files sit in the top-level
resources/, beside mr/ rather than inside it; setup.py maps them into the package. Tests that
run from the checkout would find them there even if the mapping broke, so this installs a copy
of the sources into a fresh virtual environment (no network: the test environment's own
packages stand in for the dependencies) and runs that copy: its paths, its templates, and its
gunicorn launcher serving a page and a static file.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import requests

from mr import cluster
from tests.support.cluster import REPO

SOURCES = ("setup.py", "README.rst", "mr", "resources")
SHIPPED = sorted(path.relative_to(REPO / "resources").as_posix()
                 for path in (REPO / "resources").rglob("*")
                 if path.is_file() and path.suffix != ".pyc")
# the installed copy, not this checkout (PYTHONPATH) or its editable install
ISOLATED = {"PYTHONPATH": "", "PYTHONNOUSERSITE": "1"}


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("install")
    source = tmp / "source"
    source.mkdir()
    for name in SOURCES:
        origin = REPO / name
        if origin.is_dir():
            shutil.copytree(origin, source / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(origin, source / name)
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    python = venv / "bin" / "python"
    env = {**os.environ, **ISOLATED}
    purelib = subprocess.run([str(python), "-c", "import sysconfig; "
                              "print(sysconfig.get_paths()['purelib'])"], env=env, check=True,
                             capture_output=True, text=True, timeout=60).stdout.strip()
    # The test environment's packages (pip, setuptools, gunicorn, ...) as one plain path entry,
    # after the venv's own: the .pth files there (the editable mr among them) are not read.
    Path(purelib, "test-environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", "--ignore-installed", str(source)],
        env=env, cwd=tmp, capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    # setuptools' metadata and staging tree went to the hidden .build/, not beside mr/
    assert sorted(os.listdir(source)) == sorted([*SOURCES, ".build"])
    return venv


def run_python(venv: Path, code: str) -> str:
    done = subprocess.run([str(venv / "bin" / "python"), "-c", code],
                          env={**os.environ, **ISOLATED}, cwd=venv, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_installed_package_holds_every_resource_file(venv):
    out = run_python(venv, "\n".join([
        "import mr, mr.cli.gunicorn as g, mr.resource_files as r, mr.web.ui_render as u",
        "from pathlib import Path",
        "print(Path(mr.__file__).parent)",
        "print(r.RESOURCES)",
        "print(g.GUNICORN_DEV.is_file(), g.GUNICORN_PROD.is_file())",
        "print(*sorted(p.relative_to(r.RESOURCES).as_posix() for p in r.RESOURCES.rglob('*')",
        "            if p.is_file() and p.suffix != '.pyc'), sep=',')",
        "print(bool(u.template('ui_base.html').safe_substitute()))",
    ])).splitlines()
    package, resources, configs, files, rendered = out
    assert Path(package).is_relative_to(venv), f"mr came from {package}, not the install"
    assert resources == str(Path(package) / "resources")
    assert configs == "True True"
    assert files.split(",") == SHIPPED
    assert rendered == "True"


def test_installed_gunicorn_serves_pages_and_static_files(venv, etcd, tmp_path):
    port = cluster.free_port()
    url = f"http://127.0.0.1:{port}"
    web = cluster.Service("gunicorn", [str(venv / "bin" / "mr_start_gunicorn_dev"),
                                       "--workers", "1"],
                          tmp_path / "gunicorn.log", cluster.http_ok(f"{url}/"),
                          env={**ISOLATED, "MR_ETCD_HOSTS": etcd.address,
                               "MR_HTTP_BIND": f"127.0.0.1:{port}"})
    web.start()
    try:
        css = requests.get(f"{url}/ui/static/ui.css", timeout=10)
        assert css.status_code == 200
        assert css.content == (REPO / "resources" / "static" / "ui.css").read_bytes()
        page = requests.get(f"{url}/ui/", timeout=10)
        assert page.status_code == 200 and "/ui/static/ui.css" in page.text
    finally:
        web.stop()
