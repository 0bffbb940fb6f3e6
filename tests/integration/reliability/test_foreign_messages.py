"""Messages on our topic that we did not write are dropped with a log line and never run: not
even a pickle whose unpickling would run a command."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import msgpack

from mr.cluster import wait_for
from mr.queue.topics import topic
from tests.integration.reliability.conftest import tally_log, tree_total
from tests.support import chaos


class Exploit:
    """Unpickling this runs a shell command that creates `marker`."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def log_sizes(engine) -> dict[Path, int]:
    return {Path(w.log_path): Path(w.log_path).stat().st_size for w in engine.workers}


def logged_since(sizes: dict[Path, int]) -> str:
    text = ""
    for path, size in sizes.items():
        with open(path, "rb") as fh:
            fh.seek(size)
            text += fh.read().decode(errors="replace")
    return text


def drained(engine) -> bool:
    stats = chaos.channel_stats(engine.broker.http_address, topic(engine.wf, "general"),
                                "workers")
    return stats["depth"] == stats["in_flight_count"] == stats["deferred_count"] == 0


def test_foreign_messages_are_dropped_with_a_log_line_and_never_run(rel, tmp_path):
    marker = tmp_path / "unpickled"
    wf = rel.wf
    foreign = {
        "garbage": (b"\x00\xff not msgpack at all", "dropping message"),
        "a list": (msgpack.packb([1, 2, 3]), "dropping message"),
        "wrong version": (msgpack.packb({"v": 2, "w": wf, "r": "a", "i": "0"}),
                          "unknown message version 2"),
        "empty field": (msgpack.packb({"v": 1, "w": wf, "r": "", "i": "0"}),
                        "message fields must be non-empty strings"),
        "pickle": (pickle.dumps(Exploit(marker)), "dropping message"),
        "other workflow": (msgpack.packb({"v": 1, "w": "not_served", "r": "a", "i": "0"}),
                           "names a workflow this worker does not serve"),
    }
    runs_before = tally_log(rel).read_text() if tally_log(rel).exists() else ""
    sizes = log_sizes(rel)
    for body, _expected in foreign.values():
        chaos.publish_raw(rel.broker.http_address, topic(wf, "general"), body)
    # Well-formed, but naming a request that does not exist: acknowledged, nothing runs.
    chaos.publish_raw(rel.broker.http_address, topic(wf, "general"),
                      msgpack.packb({"v": 1, "w": wf, "r": "f" * 32, "i": "0"}))
    wait_for(lambda: drained(rel), timeout=30, message="every foreign message acknowledged")
    new_logs = logged_since(sizes)
    for what, (_body, expected) in foreign.items():
        assert expected in new_logs, f"no log line for the {what} message"
    assert new_logs.count("dropping message") >= len(foreign)
    assert not marker.exists(), "a message was unpickled"
    assert (tally_log(rel).read_text() if tally_log(rel).exists() else "") == runs_before
    reply = rel.post(wf, "tree", {"groups": 2, "leaves": 3, "sleep": 0})
    assert reply.json()["result"] == [["total", tree_total(2, 3)]]
