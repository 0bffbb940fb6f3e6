"""mr_kv_handler_{create,get,list,delete}: one handler file at a time.

To sync a whole directory use mr_kv_handler_store; this stores or inspects single handlers.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from mr.cli.kv_definitions import delete_script, get_script, list_script
from mr.cli.output import Output, add_workflow, plain, script
from mr.errors import UserError
from mr.handlers.source import HandlerSourceError
from mr.handlers.sync import LANGUAGES, handler_from_file, role_conflicts
from mr.kv import entities
from mr.kv.models import Handler
from mr.kv.store import Store


def read_handler(workflow: str, path: Path, name: str | None = None) -> Handler:
    """Parse and compile one handler file; the name defaults to the file's stem."""
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    if path.suffix not in LANGUAGES:
        raise UserError(f"{path}: handler files end in {', '.join(LANGUAGES)}")
    try:
        return handler_from_file(workflow, path, name or path.stem, path.name)
    except HandlerSourceError as exc:
        raise UserError(str(exc)) from None


def _create_args(parser: argparse.ArgumentParser) -> None:
    add_workflow(parser)
    parser.add_argument("file", type=Path, help="handler file (docstring metadata, handle())")
    parser.add_argument("--name", help="handler name (default: the file's stem)")
    parser.add_argument("--replace", action="store_true",
                        help="overwrite a handler of that name (a new version)")


def _create(kv: Store, args: argparse.Namespace) -> Output:
    entities.require_workflow(kv, args.workflow)
    handler = read_handler(args.workflow, args.file, args.name)
    old = entities.get(kv, Handler, args.workflow, handler.name)
    if old is None or args.replace:  # a step may name it still (deleted with --force)
        conflicts = role_conflicts(kv, args.workflow, [handler])
        if conflicts:
            raise UserError(f"{'; '.join(conflicts)} (nothing was written)")
    entities.save(kv, handler, create_only=not args.replace)
    data = _summary(plain(handler))
    verb = "replaced" if old is not None else "created"
    return Output(data, f"{verb} {handler.handler_type} {handler.name} (version "
                        f"{handler.version}) in workflow {handler.workflow}")


def _summary(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "source"}


def _get_shown(data: dict, args: argparse.Namespace) -> dict:
    return data if args.source else _summary(data)


def _get_extra(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", action="store_true", help="include the source code")


create = script("mr_kv_handler_create", "Store one handler file in a workflow (parsed and "
                "compiled first).", _create_args, _create)
get = get_script(Handler, _get_shown, _get_extra)
list_ = list_script(Handler, ["name", "handler_type", "required_capability", "version", "path"],
                    _summary)
delete = delete_script(Handler)
