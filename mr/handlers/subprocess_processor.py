"""Run a handler written in any language as a child process speaking JSON lines.

The handler's file is stored in etcd like any other; each worker writes it once per version to
a private temporary directory and runs it with the interpreter named by its `#!` line (or by
its `command` metadata), so no shared filesystem and no exec permission are needed.

Protocol, one JSON value per line (UTF-8):

stdin   the handler's input, then end of file. A mapper gets one `[key, value]` line per
        argument pair; a combiner or reducer one `[key, [value, ...]]` line per group.
stdout  a mapper's first line is `{"map_to": "<step>"}` (every following pair becomes a child
        mapper of that step) or `{"return": true}` (the following pairs are its output); then
        one `[key, value]` line per pair. A combiner or reducer writes only pair lines. Output
        is read as it is written, like a Python generator; blank lines are ignored.
stderr  is kept as the invocation's stderr, apart from its log (shown apart by the trace
        tools and the web view).
exit    0 is success; anything else fails the invocation, its message ending with the tail of
        stderr. At the handler's time limit the process (and its process group) is killed.
        It is killed too when its worker dies (util-linux's setpriv sets its parent-death
        signal), so a killed worker's scripts do not run on unseen.

The environment holds MR_WORKFLOW, MR_REQUEST_ID, MR_INVOCATION_ID, MR_STEP, MR_HANDLER,
MR_HANDLER_VERSION, MR_ATTEMPT, MR_FS_ROOT (the workflow's shared directory, when the shared
filesystem is a local one), the scope factory's str/int/float values under their own names,
and PATH, HOME, LANG, TMPDIR — never the worker's own settings (passwords stay out).
"""
from __future__ import annotations

import atexit
import collections
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from mr.handlers.api import MapTo, Return
from mr.kv.models import Handler

PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")
STDERR_TAIL_LINES = 20
# The script gets SIGKILL when the worker thread that started it ends: with the worker. The
# thread that starts a script reads it to its end, so only the worker's death ends it sooner.
_DIES_WITH_WORKER = (["setpriv", "--pdeathsig", "KILL", "--"] if shutil.which("setpriv")
                     else [])


class ScriptFailed(Exception):
    """The script broke the protocol or exited non-zero; `trace` is what the record shows."""

    def __init__(self, message: str, trace: str | None = None):
        super().__init__(message)
        self.trace = trace or message


_directory: Path | None = None
_directory_lock = threading.Lock()


def _scripts_dir() -> Path:
    """One private directory per worker process, removed when it exits."""
    global _directory
    with _directory_lock:
        if _directory is None:
            _directory = Path(tempfile.mkdtemp(prefix="mr-handlers-"))
            atexit.register(shutil.rmtree, _directory, True)
        return _directory


def interpreter(source: str, command: list[str] | None, name: str) -> list[str]:
    """The argv to run the script with (its path is appended): `command`, else its #! line."""
    if command:
        return list(command)
    first = source.split("\n", 1)[0]
    if not first.startswith("#!") or not first[2:].strip():
        raise ScriptFailed(f"handler {name} has neither a '#!' first line nor `command` "
                           f"metadata: nothing says how to run it")
    program, _, argument = first[2:].strip().partition(" ")
    # Like the kernel: the interpreter and at most one argument (the rest of the line).
    return [program] + ([argument.strip()] if argument.strip() else [])


class ScriptHandler:
    """The compiled form of a subprocess handler: call it like a Python handler's handle()."""

    def __init__(self, handler: Handler, command: list[str] | None, scope: dict | None = None):
        self.name = handler.name
        self.handler_type = handler.handler_type
        self.argv = interpreter(handler.source, command, handler.name)
        suffix = Path(handler.path or "").suffix
        self.path = _scripts_dir() / f"{handler.workflow}.{handler.name}.{handler.version}{suffix}"
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(handler.source, encoding="utf-8")
        os.chmod(tmp, 0o700)
        os.replace(tmp, self.path)
        self.scope_env = {str(k): str(v) for k, v in (scope or {}).items()
                          if isinstance(v, (str, int, float)) and not isinstance(v, bool)}

    def __call__(self, ctx, argument: Any) -> Iterator:
        items = argument.items() if isinstance(argument, dict) else argument
        try:
            payload = "".join(json.dumps(_plain(item), ensure_ascii=False) + "\n"
                              for item in items).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise ScriptFailed(f"handler {self.name}: its input cannot be sent as JSON: "
                               f"{exc}") from None
        return self._run(ctx, payload)

    def _environment(self, ctx) -> dict[str, str]:
        env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
        env.update(self.scope_env)
        root = ctx.fs.local_path("") if getattr(ctx, "fs", None) is not None else None
        if root:
            os.makedirs(root, exist_ok=True)  # the area exists before its first file
        env.update({"MR_WORKFLOW": ctx.workflow, "MR_REQUEST_ID": ctx.request_id,
                    "MR_INVOCATION_ID": ctx.invocation_id, "MR_STEP": ctx.step,
                    "MR_HANDLER": ctx.handler, "MR_HANDLER_VERSION": ctx.version,
                    "MR_ATTEMPT": str(ctx.attempt), **({"MR_FS_ROOT": root} if root else {})})
        return env

    def _run(self, ctx, payload: bytes) -> Iterator:
        env = self._environment(ctx)
        try:
            if shutil.which(self.argv[0], path=env.get("PATH")) is None:   # setpriv would say
                raise FileNotFoundError(f"no executable {self.argv[0]!r} here")  # it less well
            proc = subprocess.Popen(_DIES_WITH_WORKER + self.argv + [str(self.path)],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, env=env, start_new_session=True)
        except OSError as exc:
            raise ScriptFailed(f"handler {self.name}: cannot run {' '.join(self.argv)}: "
                               f"{exc}") from None
        stdout = proc.stdout
        assert stdout is not None  # opened with stdout=PIPE
        tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        threads = [threading.Thread(target=_feed, args=(proc.stdin, payload), daemon=True),
                   threading.Thread(target=_drain, args=(proc.stderr, ctx.log, tail),
                                    daemon=True)]
        for thread in threads:
            thread.start()
        limit = getattr(ctx, "time_limit", None)
        if limit is not None:
            limit.on_expire(lambda: _kill(proc))
        try:
            yield from self._read(stdout)
            code = proc.wait()
        finally:
            if proc.poll() is None:  # the consumer stopped early (an error downstream)
                _kill(proc)
                proc.wait()
            stdout.close()
            for thread in threads:
                thread.join(5)
        if limit is not None:
            limit.check()
        if code != 0:
            stderr = "".join(tail)
            how = (f"was killed by signal {-code}" if code < 0 else f"exited with status {code}")
            raise ScriptFailed(f"handler {self.name} {how}; stderr ends: "
                               f"{stderr.strip().splitlines()[-1] if stderr.strip() else '-'}",
                               f"handler {self.name} ({' '.join(self.argv)}) {how}\n"
                               f"last lines of stderr:\n{stderr}")

    def _read(self, stdout: IO[bytes]) -> Iterator:
        first = self.handler_type == "mapper"
        for number, raw in enumerate(stdout, 1):
            line = raw.decode("utf-8", errors="replace").strip()
            if not line:
                continue
            try:
                value = json.loads(line)
            except ValueError as exc:
                raise ScriptFailed(f"handler {self.name} wrote a line that is not JSON (stdout "
                                   f"line {number}: {line[:80]!r}): {exc}") from None
            if first:
                yield _marker(value, self.name)
                first = False
            else:
                yield value


def _marker(value: Any, name: str) -> MapTo | Return:
    """A mapper's first line: where its pairs go."""
    if isinstance(value, dict) and isinstance(value.get("map_to"), str) and len(value) == 1:
        return MapTo(value["map_to"])
    if value == {"return": True}:
        return Return()
    raise ScriptFailed(f'handler {name}: a mapper\'s first line is {{"map_to": "<step>"}} or '
                       f'{{"return": true}}, not {json.dumps(value)[:80]}')


def _plain(value: Any) -> Any:
    """Tuples (grouped keys) as JSON arrays; bytes are refused by json.dumps."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _feed(stdin, payload: bytes) -> None:
    try:
        stdin.write(payload)
    except (BrokenPipeError, OSError):
        pass  # the script stopped reading (or exited): its exit status tells the story
    finally:
        try:
            stdin.close()
        except OSError:
            pass


def _drain(stderr, log, tail: collections.deque) -> None:
    for raw in stderr:
        line = raw.decode("utf-8", errors="replace")
        tail.append(line)
        log.write_stderr(line)
    stderr.close()


def _kill(proc: subprocess.Popen) -> None:
    """The script and anything it started (it leads its own process group)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
