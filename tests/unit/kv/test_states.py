"""States and runner outcomes are str Enums that store as the plain strings they always were,
so records written before them, and readers of the JSON API, see no difference."""
from __future__ import annotations

import json

import msgpack

from mr.engine.outcome import Outcome
from mr.kv.codec import pack, unpack
from mr.kv.models import DONE, Invocation, Request, State, decode, encode


def test_every_state_and_outcome_packs_and_dumps_as_its_string() -> None:
    for member in [*State, *Outcome]:
        assert pack(member) == pack(member.value)
        assert json.dumps(member) == json.dumps(member.value)
        assert f"{member}" == member.value


def test_a_record_stores_the_plain_string_and_reads_back_equal() -> None:
    inv = Invocation(id="0.1", step="s", state=DONE)
    raw = unpack(encode(inv))
    assert type(raw["state"]) is str and raw["state"] == "done"
    assert decode(Invocation, encode(inv)).state == State.DONE


def test_a_record_written_with_plain_strings_still_decodes() -> None:
    old = msgpack.packb({"id": "r1", "workflow": "wf", "job": "j", "arguments": [],
                         "state": "cancelled"},
                        use_bin_type=True)
    assert decode(Request, old).state == State.CANCELLED
