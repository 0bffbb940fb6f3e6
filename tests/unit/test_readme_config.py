"""README's Configuration table names every MR_* variable a process reads."""
from __future__ import annotations

import re
from pathlib import Path

from mr import config

REPO = Path(__file__).resolve().parents[2]


def read_variables() -> set[str]:
    names = {"MR_" + n for n in re.findall(r'get\("([A-Z0-9_]+)"',
                                           (REPO / "mr" / "config.py").read_text())}
    for path in (REPO / "mr").rglob("*.py"):
        names |= set(re.findall(r'environ(?:\.get\(|\[)"(MR_[A-Z0-9_]+)"', path.read_text()))
    return {name for name in names if not name.endswith("_")} - config.HANDLER_ENVIRONMENT


def test_every_variable_is_in_the_configuration_table():
    readme = (REPO / "README.rst").read_text()
    section = readme[readme.index("\nConfiguration\n"):readme.index("\nProcesses\n")]
    found = read_variables()
    assert {"MR_ETCD_HOSTS", "MR_HTTP_BIND", "MR_URL", "MR_DATA_ISOLATION"} <= found
    missing = sorted(name for name in found if not re.search(rf"\b{name}\b", section))
    assert missing == [], f"add these to README's Configuration table: {missing}"


def test_every_variable_read_anywhere_is_known_to_the_unknown_variable_warning(caplog):
    everything = {name: "" for name in read_variables()}
    with caplog.at_level("WARNING", logger="mr.config"):
        config.load(everything)
    assert caplog.records == []
