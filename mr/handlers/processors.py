"""Language processors: turn a stored handler into something the runner calls as
`function(ctx, argument) -> iterable`, whatever language it is written in.

    python      compiled into the worker (mr.handlers.compiler), scope values as module globals
    subprocess  run as a child process speaking JSON lines (mr.handlers.subprocess_processor),
                scope values as environment variables

The metadata that only matters when running (time limit, command) is read back from the
stored source, so the source stays the one place that states it.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from mr.handlers.compiler import compile_handler
from mr.handlers.source import parse
from mr.handlers.subprocess_processor import ScriptHandler
from mr.kv.models import Handler

log = logging.getLogger(__name__)

ScopeOf = Callable[[str], dict]


@dataclass(frozen=True)
class LoadedHandler:
    definition: Handler
    function: Callable | None
    error: str | None = None  # why it could not be loaded on this process
    time_limit_s: float | None = None
    expected_s: float | None = None
    malformed: str = "fail"   # a data mapper's malformed input lines: fail or skip


def load(handler: Handler, scope: ScopeOf | None = None) -> LoadedHandler:
    """Compile `handler` for this process; a handler that does not load says why."""
    try:
        parsed = parse(handler.source, _parse_path(handler))
        values = scope(handler.name) if scope else None
        function: Callable
        if handler.language == "subprocess":
            function = ScriptHandler(handler, parsed.command, values)
        elif handler.language == "python":
            function = compile_handler(handler, values)
        else:
            raise ValueError(f"no processor for language {handler.language!r}")
    except Exception as exc:  # the handler's own import-time code, or its scope, failed here
        log.error("handler %s/%s version %s does not load: %s", handler.workflow, handler.name,
                  handler.version, exc)
        return LoadedHandler(handler, None, f"{exc.__class__.__name__}: {exc}")
    return LoadedHandler(handler, function, time_limit_s=parsed.time_limit_s,
                         expected_s=parsed.expected_s, malformed=parsed.malformed)


def _parse_path(handler: Handler) -> str:
    """The parser tells a script from a Python file by its suffix."""
    path = handler.path or handler.name
    return path + ".py" if handler.language == "python" and not path.endswith(".py") else path
