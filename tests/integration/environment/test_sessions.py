"""Sessions end to end: a reducer reads its mapper's session and cannot write it; the
tracing script shows sessions; cleanup removes them with the request."""
from mr.cli.trace import sessions
from mr.kv import keys


def test_reducer_reads_its_mappers_session_and_cannot_write_it(traced):
    reply = traced.post(traced.wf, "sess", {"word": "hello"})
    assert reply.status_code == 200, reply.text
    result = dict(map(tuple, reply.json()["result"]))
    assert result["seen"] == "hello" and result["letters"] == 5
    assert result["keys"] == ["seen"]   # "scratch" was set, then deleted
    assert result["write_error"] == ("SessionReadOnly: a reducer reads its mapper's session; "
                                     "it cannot write it")


def test_writing_from_a_reducer_fails_the_request_clearly(traced):
    reply = traced.post(traced.wf, "sess_write", {"word": "abc"})
    assert reply.status_code == 500
    failure = reply.json()["failure"]
    assert failure["handler"] == "session_writer"
    assert reply.json()["error"] == ("handler session_writer raised SessionReadOnly: a reducer "
                                     "reads its mapper's session; it cannot write it")


def test_request_sessions_script_shows_them(traced, monkeypatch, capsys):
    rid = traced.post(traced.wf, "sess", {"word": "kept"}).json()["request_id"]
    monkeypatch.setenv("MR_ETCD_HOSTS", traced.etcd_address)
    assert sessions([traced.wf, rid]) == 0
    assert "Invocation: 0\n  [seen]: 'kept'" in capsys.readouterr().out


def test_sessions_go_with_their_request(cleaned):
    reply = cleaned.post(cleaned.wf, "sess", {"word": "gone"})
    assert reply.status_code == 200, reply.text
    rid = reply.json()["request_id"]
    assert cleaned.kv.count(keys.sessions(cleaned.wf, rid)) == 0
    assert cleaned.kv.count(keys.request_data(cleaned.wf, rid)) == 0
