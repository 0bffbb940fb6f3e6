"""A cluster (MR_CLEANUP=0, no trace documents) and a real headless Chromium driven through
Selenium.

Chromium and its driver are Debian's `chromium` and `chromium-driver` packages, which
scripts/install puts on the machine. Without them the browser tests fail (never skip), saying
so.
"""
from __future__ import annotations

import os
import shutil

import pytest

from mr.kv import entities
from mr.kv.models import Job, Step, Workflow

# the request-tracking tests' handlers: slow leaves, and a leaf that fails until fixed
from tests.integration.tracking.conftest import HANDLERS, SHARED
from tests.support.cluster import start_cluster, unique

CHROMIUM = ("chromium", "chromium-browser")
DRIVER = "chromedriver"


def _binary(names: tuple[str, ...]) -> str | None:
    for name in names:
        found = shutil.which(name) or shutil.which(name, path="/usr/bin:/usr/lib/chromium")
        if found:
            return found
    return None


@pytest.fixture(scope="package")
def engine(etcd, tmp_path_factory):
    wf = unique("ui")
    engine = start_cluster(tmp_path_factory.mktemp("ui"), etcd.address, [wf], extra_env={
        "MR_CLEANUP": "0", "MR_FAILED_RETENTION_S": "3600", "MR_METRICS_PORT": "0",
        # no trace documents: a request whose records are deleted has no trace at all
        "MR_TRACE_RETENTION_S": "0"})
    kv = engine.kv
    entities.create_workflow(kv, Workflow(wf, "web view tests"))
    synced = engine.sync(wf, HANDLERS, shared=SHARED)
    assert synced.returncode == 0, synced.stderr
    for step in (Step(wf, "track_root", "track_root", "total"),
                 Step(wf, "track_mid", "track_mid", "total"),
                 Step(wf, "track_leaf", "track_leaf", "total"),
                 Step(wf, "track_chatty", "track_chatty", "total")):
        entities.save(kv, step)
    entities.save(kv, Job(wf, "fan", "track_root"))
    entities.save(kv, Job(wf, "chatty", "track_chatty"))
    engine.start_workers(2)
    engine.start_web()
    engine.wf = wf
    yield engine
    engine.stop()


@pytest.fixture(scope="package")
def browser(tmp_path_factory):
    chromium, driver = _binary(CHROMIUM), _binary((DRIVER,))
    if chromium is None or driver is None:
        pytest.fail("the browser tests need Debian's chromium and chromium-driver packages "
                    f"(missing: {'chromium' if chromium is None else 'chromedriver'}); run "
                    "scripts/install, which apt-installs them", pytrace=False)
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("selenium is not installed: run scripts/install (pip install -e .[test])",
                    pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1400,1000",
                     f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(argument)
    service = Service(executable_path=driver,
                      log_output=str(tmp_path_factory.mktemp("chromedriver") / "driver.log"))
    os.environ.setdefault("SE_AVOID_STATS", "true")  # Selenium Manager: never reach out
    chrome = webdriver.Chrome(service=service, options=options)
    chrome.set_page_load_timeout(30)
    yield chrome
    chrome.quit()
