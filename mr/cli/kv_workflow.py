"""mr_kv_workflow_{create,get,list,delete}: the containers of everything else."""
from __future__ import annotations

import argparse

from mr.cli.output import Output, add_workflow, fields_text, plain, script, table
from mr.handlers.scope import check_path
from mr.kv import entities
from mr.kv.models import Workflow
from mr.kv.store import Store


def _create_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="letters, digits, '_' or '-' (it becomes a topic part)")
    parser.add_argument("description", nargs="?", default="")
    parser.add_argument("--scope-factory", metavar="MODULE:FUNCTION",
                        help="function(handler_name) -> dict of values for that handler's "
                             "scope, imported by workers at start (README: Scope factories)")


def _create(kv: Store, args: argparse.Namespace) -> Output:
    factory = check_path(args.scope_factory) if args.scope_factory else None
    workflow = Workflow(args.name, args.description, scope_factory=factory)
    entities.create_workflow(kv, workflow)
    return Output(plain(workflow), f"created workflow {args.name}")


def _get(kv: Store, args: argparse.Namespace) -> Output:
    data = plain(entities.require_workflow(kv, args.workflow))
    data["contents"] = entities.workflow_contents(kv, args.workflow)
    return Output(data, fields_text({**data, "contents": ", ".join(
        f"{n} {kind}" for kind, n in data["contents"].items())}))


def _list(kv: Store, args: argparse.Namespace) -> Output:
    rows = sorted((plain(w) for w in entities.list_workflows(kv)), key=lambda d: d["name"])
    return Output(rows, table(rows, ["name", "description"], empty="(no workflows)"))


def _delete_args(parser: argparse.ArgumentParser) -> None:
    add_workflow(parser)
    parser.add_argument("--force", action="store_true",
                        help="delete even if it still holds jobs, steps, handlers or requests")


def _delete(kv: Store, args: argparse.Namespace) -> Output:
    entities.require_workflow(kv, args.workflow)
    contents = {k: n for k, n in entities.workflow_contents(kv, args.workflow).items() if n}
    described = ", ".join(f"{n} {kind}" for kind, n in contents.items())
    if contents and not args.force:
        raise entities.EntityError(f"workflow {args.workflow!r} still holds {described}; use "
                                   f"--force to delete it with everything it holds")
    entities.delete_workflow(kv, args.workflow)
    return Output({"deleted": args.workflow, "contents": contents},
                  f"deleted workflow {args.workflow}"
                  + (f" with {described}" if described else ""))


create = script("mr_kv_workflow_create", "Create a workflow (its own key prefix and topics).",
                _create_args, _create)
get = script("mr_kv_workflow_get", "Print a workflow and how much it holds.", add_workflow, _get)
list_ = script("mr_kv_workflow_list", "List every workflow.", lambda p: None, _list)
delete = script("mr_kv_workflow_delete", "Delete a workflow and everything stored under it. "
                "Refuses while it holds anything, unless --force.", _delete_args, _delete)
