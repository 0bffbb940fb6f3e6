"""The subprocess processor end to end: the shipped Perl word splitter, a shell mapper that
fans out to an awk mapper, and a failing script's exit status and stderr."""
from mr import examples
from mr.kv import keys
from mr.kv.codec import unpack


def test_perl_word_count_equals_plain_count(traced):
    text = examples.corpus()
    reply = traced.post(traced.ex, "wordcount_perl", {"text": text})
    assert reply.status_code == 200, reply.text
    assert dict(map(tuple, reply.json()["result"])) == examples.count_locally(text)


def test_shell_fans_out_to_awk(traced):
    reply = traced.post(traced.wf, "sh_fan", {})
    assert reply.status_code == 200, reply.text
    assert reply.json()["result"] == [["sum", 60]]
    root = unpack(traced.kv.get(keys.invocation(traced.wf, reply.json()["request_id"],
                                                "0")).value)
    assert root["children"] == 3 and "fanning out from 0" in root["stderr"]


def test_failing_script_reports_status_and_stderr(traced):
    reply = traced.post(traced.wf, "sh_fail", {})
    assert reply.status_code == 500
    body = reply.json()
    assert body["error"] == ("handler sh_fail raised ScriptFailed: handler sh_fail exited with "
                             "status 3; stderr ends: cannot open /no/such/input")
    assert "reading the input\ncannot open /no/such/input" in body["failure"]["traceback"]
    assert "cannot open /no/such/input" in body["failure"]["stderr"]
