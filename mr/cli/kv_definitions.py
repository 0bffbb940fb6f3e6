"""get / list / delete scripts shared by every definition kind (job, step, handler).

Each kind module only adds its own `create` and extras; the rest is built here once.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable

from mr.cli.output import Output, Script, add_workflow, fields_text, plain, script, table
from mr.kv import entities
from mr.kv.models import Handler, Job, Step
from mr.kv.store import Store

KIND = entities.KIND_OF
Definition = type[Job | Step | Handler]


def _add_name(parser: argparse.ArgumentParser, cls: Definition) -> None:
    add_workflow(parser)
    parser.add_argument("name", help=f"{KIND[cls]} name")


def get_script(cls: Definition,
               shown: Callable[[dict, argparse.Namespace], dict] = lambda d, a: d,
               extra: Callable[[argparse.ArgumentParser], None] = lambda p: None) -> Script:
    kind = KIND[cls]

    def arguments(parser: argparse.ArgumentParser) -> None:
        _add_name(parser, cls)
        extra(parser)

    def action(kv: Store, args: argparse.Namespace) -> Output:
        data = shown(plain(entities.require(kv, cls, args.workflow, args.name)), args)
        return Output(data, fields_text(data))
    return script(f"mr_kv_{kind}_get", f"Print one {kind} of a workflow.", arguments, action)


def list_script(cls: Definition, columns: list[str],
                shown: Callable[[dict], dict] = lambda d: d) -> Script:
    kind = KIND[cls]

    def action(kv: Store, args: argparse.Namespace) -> Output:
        entities.require_workflow(kv, args.workflow)
        rows = sorted((shown(plain(e)) for e in entities.list_all(kv, cls, args.workflow)),
                      key=lambda d: d["name"])
        return Output(rows, table(rows, columns, empty=f"(no {kind}s in {args.workflow})"))
    return script(f"mr_kv_{kind}_list", f"List the {kind}s of a workflow, sorted by name.",
                  add_workflow, action)


def delete_script(cls: Definition) -> Script:
    kind = KIND[cls]
    users = {"step": "jobs", "handler": "steps"}.get(kind)

    def arguments(parser: argparse.ArgumentParser) -> None:
        _add_name(parser, cls)
        parser.add_argument("--force", action="store_true",
                            help=f"delete even if {users} still refer to it" if users
                            else "accepted for symmetry; nothing refers to a job")

    def action(kv: Store, args: argparse.Namespace) -> Output:
        entities.require_workflow(kv, args.workflow)
        referrers = entities.referrers(kv, cls, args.workflow, args.name)
        entities.delete(kv, cls, args.workflow, args.name, force=args.force)
        text = f"deleted {kind} {args.name} from workflow {args.workflow}"
        if referrers:
            text += f" (still referred to by {', '.join(referrers)})"
        return Output({"deleted": args.name, "kind": kind, "workflow": args.workflow,
                       "referrers": referrers}, text)
    description = f"Delete a {kind}." + (f" Refuses while {users} refer to it, unless --force."
                                         if users else "")
    return script(f"mr_kv_{kind}_delete", description, arguments, action)
