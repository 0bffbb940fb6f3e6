"""The wire format never unpickles: messages and stored values are msgpack, checked against a
schema; anything else is refused without being interpreted."""
import os
import pickle
import re
from pathlib import Path

import msgpack
import pytest

from mr.kv.codec import pack, unpack
from mr.queue import messages

MR = Path(__file__).resolve().parents[3] / "mr"


class Exploit:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("body, reason", [
    (pickle.dumps({"v": 1, "w": "wf", "r": "r", "i": "0"}), "undecodable"),
    (msgpack.packb(msgpack.ExtType(1, b"payload")), "undecodable"),
    (msgpack.packb({"v": 1, "w": "wf", "r": {"nested": 1}, "i": "0"}), "non-empty strings"),
    (msgpack.packb({"v": 1, "w": "wf", "r": 7, "i": "0"}), "non-empty strings"),
    (msgpack.packb({"v": 1, "w": "wf", "r": "r"}), "undecodable"),
    (msgpack.packb({"v": "1", "w": "wf", "r": "r", "i": "0"}), "unknown message version"),
    (msgpack.packb("just a string"), "undecodable"),
    (b"", "undecodable"),
])
def test_anything_but_our_schema_is_a_bad_message(body, reason):
    with pytest.raises(messages.BadMessage, match=reason):
        messages.decode(body)


def test_a_pickle_payload_is_never_unpickled(tmp_path):
    marker = tmp_path / "ran"
    for body in (pickle.dumps(Exploit(marker)), pickle.dumps(Exploit(marker), protocol=0)):
        with pytest.raises(messages.BadMessage):
            messages.decode(body)
        try:
            unpack(body)  # stored values: also plain msgpack
        except Exception:
            pass
    assert not marker.exists()


def test_round_trip_keeps_only_the_schema():
    body = msgpack.packb({"v": 1, "w": "wf", "r": "abc", "i": "0.3", "extra": [1, 2]})
    decoded = messages.decode(body)
    assert (decoded.workflow, decoded.request_id, decoded.invocation_id) == ("wf", "abc", "0.3")
    assert messages.decode(messages.encode("wf", "abc", "0")).invocation_id == "0"


def test_stored_values_decode_to_plain_data_only():
    assert unpack(pack({"a": [1, b"x", None, 1.5]})) == {"a": [1, b"x", None, 1.5]}
    value = unpack(msgpack.packb(msgpack.ExtType(5, b"data")))
    assert isinstance(value, msgpack.ExtType)  # kept as inert bytes, never turned into code


def test_no_module_of_the_engine_can_unpickle():
    pattern = re.compile(r"^\s*(import|from)\s+(pickle|cPickle|dill|marshal|shelve)\b|"
                         r"\byaml\.(unsafe_)?load\(|\byaml\.Loader\b", re.MULTILINE)
    offenders = [str(path.relative_to(MR.parent)) for path in MR.rglob("*.py")
                 if pattern.search(path.read_text())]
    assert offenders == []
