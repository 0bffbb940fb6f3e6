"""Scope factories: per workflow, a function that gives each handler extra values.

A workflow names one as "package.module:function" (`mr_kv_workflow_create --scope-factory`,
or MR_SCOPE_FACTORIES on a worker, which wins). The worker imports it at start and calls
`function(handler_name) -> dict` when it compiles each handler: a Python handler gets the
values as module globals, a subprocess handler its str/int/float values as environment
variables. Because the factory sees the handler's name, a secret can go to chosen handlers
only. A path that does not import, or a factory that raises or returns something other than
a dict of names, stops the worker at start with a message naming the workflow and path.
"""
from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

PATH_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


class ScopeFactoryError(Exception):
    """A scope factory that cannot be used; the message names the workflow and the path."""


def check_path(path: str) -> str:
    """The syntax of a dotted path (importing it is the worker's business)."""
    if not isinstance(path, str) or not PATH_RE.match(path):
        raise ValueError(f"scope factory {path!r} is not of the form package.module:function")
    return path


class HandlerScope:
    """A workflow's factory, callable as `scope(handler_name) -> dict` with checked output."""

    def __init__(self, workflow: str, path: str):
        self.workflow, self.path = workflow, path
        try:
            module_name, function_name = check_path(path).split(":")
            module = importlib.import_module(module_name)
            self.factory: Callable[[str], Any] = getattr(module, function_name)
        except ValueError as exc:
            raise self._error(str(exc)) from None
        except ImportError as exc:
            raise self._error(f"cannot import {exc.name or module_name!r}: {exc}") from None
        except AttributeError:
            raise self._error(f"module {module_name!r} has no {function_name!r}") from None
        if not callable(self.factory):
            raise self._error(f"{function_name!r} is not callable")

    def _error(self, problem: str) -> ScopeFactoryError:
        return ScopeFactoryError(f"workflow {self.workflow!r}: scope factory {self.path!r}: "
                                 f"{problem}")

    def __call__(self, handler_name: str) -> dict:
        try:
            values = self.factory(handler_name)
        except Exception as exc:
            raise self._error(f"raised {exc.__class__.__name__} for handler "
                              f"{handler_name!r}: {exc}") from None
        values = {} if values is None else values
        if not isinstance(values, dict) or not all(isinstance(k, str) and k.isidentifier()
                                                   for k in values):
            raise self._error(f"returned {type(values).__name__} for handler "
                              f"{handler_name!r}; it must return a dict of names to values")
        return values

    def check(self, handler_names: list[str]) -> None:
        """Call the factory for each handler now, so a broken one stops the worker at start."""
        for name in handler_names:
            self(name)


def scope_for(workflow: str, stored_path: str | None,
              overrides: dict[str, str]) -> HandlerScope | None:
    """The workflow's scope: MR_SCOPE_FACTORIES first, then the workflow's own record."""
    path = overrides.get(workflow) or stored_path
    return HandlerScope(workflow, path) if path else None
