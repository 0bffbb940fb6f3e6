"""Request ids are capabilities (knowing one reads the request): 128 bits from the OS CSPRNG."""
import re

from mr.engine import submit


def test_ids_come_from_the_secrets_module(monkeypatch):
    asked = []

    def token_hex(nbytes):
        asked.append(nbytes)
        return "ab" * nbytes
    monkeypatch.setattr(submit.secrets, "token_hex", token_hex)
    assert submit.new_request_id() == "ab" * 16 and asked == [16]


def test_ids_are_128_random_bits():
    ids = {submit.new_request_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    assert all(re.fullmatch(r"[0-9a-f]{32}", rid) for rid in ids)
