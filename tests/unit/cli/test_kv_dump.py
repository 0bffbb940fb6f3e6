"""mr_kv_dump's decoding: msgpack records, plain text, and bytes that are neither."""
from mr.cli.kv_dump import decoded
from mr.kv.codec import pack


def test_a_record_is_decoded_to_json_values():
    assert decoded(pack({"state": "done", "out": b"\x00\xff", 3: [1, 2]})) == {
        "state": "done", "out": {"base64": "AP8="}, "3": [1, 2]}


def test_text_stays_text_and_other_bytes_are_base64():
    assert decoded(b"vm-123-abc") == "vm-123-abc"
    assert decoded(b"\xc1\xff") == {"base64": "wf8="}
