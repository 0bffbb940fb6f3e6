"""Turn a stored handler into a callable, once per version, with real file line numbers."""
from __future__ import annotations

import linecache
import types
from collections.abc import Callable

from mr.kv.models import Handler


def compile_handler(handler: Handler, scope: dict | None = None) -> Callable:
    """Execute the handler's module in a fresh namespace and return its handle() function.

    The code is compiled under the handler's file path and its lines are registered with
    linecache, so tracebacks show the handler file's own line numbers and text.
    """
    filename = handler.path or f"<handler {handler.workflow}/{handler.name}>"
    code = compile(handler.source, filename, "exec")
    lines = handler.source.splitlines(keepends=True)
    linecache.cache[filename] = (len(handler.source), None, lines, filename)
    module = types.ModuleType(f"mr_handler_{handler.workflow}_{handler.name}")
    module.__file__ = filename
    if scope:
        module.__dict__.update(scope)
    exec(code, module.__dict__)
    return module.handle
