"""A step and its handlers, found in a workflow's library: each missing, unloadable or
mis-typed piece is a HandlerFailure that says which and what to do (it fails the request)."""
from __future__ import annotations

from mr.engine.calls import HandlerFailure
from mr.handlers.library import Library, LoadedHandler
from mr.kv.models import PARTITION, REDUCE, Invocation, Step


def step(library: Library, name: str) -> Step:
    found = library.step(name)
    if found is None:
        raise HandlerFailure(f"step {name!r} does not exist in workflow {library.workflow}")
    return found


def handler(library: Library, of: Step, role: str) -> LoadedHandler:
    """The step's handler in `role` (mapper, combiner, reducer), loaded and of that type."""
    name = getattr(of, role)
    if name is None:
        raise HandlerFailure(f"step {of.name!r} has no {role}: only a step whose mapper reads "
                             f"input files may be map-only; give it a {role} "
                             f"(mr_kv_step_set_handler), then mr_request_retry")
    loaded = library.handler(name)
    if loaded is None:
        raise HandlerFailure(f"handler {name!r} does not exist in workflow {library.workflow}")
    if loaded.function is None:
        raise HandlerFailure(f"handler {name} (version {loaded.definition.version}) does not "
                             f"load on this worker: {loaded.error}", loaded)
    kind = loaded.definition.handler_type
    if kind != role:
        raise HandlerFailure(f"step {of.name!r} uses handler {name!r} as its {role}, but "
                             f"version {loaded.definition.version} of it is a {kind}: "
                             f"point the step at a {role} (mr_kv_step_update_handlers), "
                             f"then mr_request_retry", loaded)
    return loaded


def role_of(inv: Invocation, of: Step) -> str:
    """Which of its step's handlers an invocation runs (or, for a map-only step's reduction,
    which only gathers the splits' parts, whose capability it needs)."""
    if inv.kind == PARTITION or (inv.kind == REDUCE and of.reducer):
        return "reducer"
    return "mapper"


def reduction_handler(library: Library, of: Step) -> LoadedHandler:
    """The handler whose capability a reduction of `of` needs: see role_of."""
    return handler(library, of, "reducer" if of.reducer else "mapper")


def named_handler(library: Library, inv: Invocation) -> tuple[str | None, LoadedHandler | None]:
    """The name of the handler `inv` runs as its step names it now, and that handler; None
    for what is missing (without failing anything: running the invocation says why)."""
    found = library.step(inv.step)
    name = getattr(found, role_of(inv, found)) if found else None
    return name, library.handler(name) if name else None
