"""The subprocess processor runs real scripts (sh, perl) through the JSON-lines protocol."""
from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from mr.engine.context import InvocationLog
from mr.engine.timelimit import TimeLimitExceeded, Watchdog
from mr.handlers import processors
from mr.handlers.api import MapTo, Return
from mr.handlers.subprocess_processor import ScriptFailed
from mr.kv.models import Handler

REPO = Path(__file__).resolve().parents[3]


def script(body: str, handler_type: str = "mapper", name: str = "s", extra: str = "",
           suffix: str = ".sh") -> processors.LoadedHandler:
    source = (f"#!/bin/sh\n# A test script.\n#\n# **\n# handler_type: {handler_type}\n"
              f"# required_capability: general\n{extra}{body}")
    handler = Handler(workflow="wf", name=name, handler_type=handler_type, source=source,
                      version=f"v{abs(hash(source))}", path=f"{name}{suffix}",
                      language="subprocess")
    loaded = processors.load(handler, lambda _name: {"GREETING": "hello", "ignored": [1]})
    assert loaded.function is not None, loaded.error
    return loaded


def context(limit=None, fs=None) -> SimpleNamespace:
    return SimpleNamespace(workflow="wf", request_id="rid1", invocation_id="0.3", step="st",
                           handler="s", version="v", attempt=1, log=InvocationLog(), fs=fs,
                           time_limit=limit)


def run(loaded, argument, ctx=None) -> list:
    return list(loaded.function(ctx or context(), argument))


def test_perl_example_splits_words():
    source = (REPO / "handlers" / "wordcount" / "split_words.pl").read_text()
    handler = Handler(workflow="wf", name="split_words", handler_type="mapper", source=source,
                      version="v1", path="wordcount/split_words.pl", language="subprocess")
    loaded = processors.load(handler)
    assert loaded.time_limit_s == 120
    ctx = context()
    out = list(loaded.function(ctx, [("text", "It's a Cat, a CAT!"), ("more", "dog")]))
    assert out == [Return(), ["it's", 1], ["a", 1], ["cat", 1], ["a", 1], ["cat", 1],
                   ["dog", 1]]
    assert "split 2 argument(s) into words" in ctx.log.stderr_text()


def test_mapper_maps_to_a_step_and_streams_pairs():
    loaded = script('echo \'{"map_to": "leaf"}\'\nwhile read -r line; do echo "$line"; done\n')
    assert run(loaded, [("a", 1), ("b", [2, 3])]) == [MapTo("leaf"), ["a", 1], ["b", [2, 3]]]


def test_reducer_reads_groups():
    loaded = script("cat\n", handler_type="reducer")
    assert run(loaded, [(("k", 1), [1, 2]), ("x", [])]) == [[["k", 1], [1, 2]], ["x", []]]


def test_environment_has_context_and_scope_but_not_the_workers_secrets(monkeypatch):
    monkeypatch.setenv("MR_SMTP_PASSWORD", "do-not-leak")
    loaded = script('echo \'{"return": true}\'\n'
                    'echo "[\\"env\\", \\"$MR_REQUEST_ID $MR_INVOCATION_ID $MR_ATTEMPT '
                    '$GREETING ${MR_SMTP_PASSWORD:-none} ${MR_FS_ROOT:-nofs}\\"]"\n')
    fs = SimpleNamespace(local_path=lambda path: "/srv/shared/wf")
    assert run(loaded, [], context(fs=fs))[1] == ["env", "rid1 0.3 1 hello none /srv/shared/wf"]


@pytest.mark.parametrize("body, message", [
    ("echo oops >&2\nexit 3\n", "exited with status 3; stderr ends: oops"),
    ("echo '{\"return\": true}'\necho 'not json'\n",
     "wrote a line that is not JSON (stdout line 2"),
    ("echo '[1, 2]'\n", 'a mapper\'s first line is {"map_to": "<step>"} or {"return": true}'),
])
def test_failures_are_clear(body, message):
    with pytest.raises(ScriptFailed) as info:
        run(script(body), [])
    assert message in str(info.value)


def test_stderr_tail_is_in_the_trace_and_the_log():
    ctx = context()
    with pytest.raises(ScriptFailed) as info:
        run(script("for i in 1 2 3; do echo line$i >&2; done\nexit 1\n"), [], ctx)
    assert "line1\nline2\nline3" in info.value.trace
    assert "line3" in ctx.log.stderr_text() and "line3" not in ctx.log.text()


def test_time_limit_kills_the_process(tmp_path):
    pid_file = tmp_path / "pid"
    loaded = script(f"echo $$ > {pid_file}\necho '{{\"return\": true}}'\nsleep 60\n")
    watchdog = Watchdog()
    limit = watchdog.limit(0.5, lambda: TimeLimitExceeded("over the limit"))
    with pytest.raises(TimeLimitExceeded):
        run(loaded, [], context(limit))
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed and reaped


def test_missing_interpreter_is_a_load_error():
    handler = Handler(workflow="wf", name="n", handler_type="mapper",
                      source="# x\n#\n# **\n# handler_type: mapper\n# required_capability: g\n",
                      version="v", path="n.sh", language="subprocess")
    loaded = processors.load(handler)
    assert loaded.function is None and "neither a '#!' first line nor `command`" in loaded.error


def test_command_metadata_runs_the_script_with_it():
    loaded = script("BEGIN { print \"{\\\"return\\\": true}\"; print \"[\\\"awk\\\", 1]\" }\n",
                    extra="# command: [awk, -f]\n", suffix=".awk")
    assert run(loaded, []) == [Return(), ["awk", 1]]
