"""mr_kv_step_{create,get,list,delete,set_handler,update_handlers}: mapper + combiner + reducer.

The combiner is a positional argument (an empty string means none) so that leaving it out is
always a visible choice, as in the original tools.
"""
from __future__ import annotations

import argparse

from mr.cli.kv_definitions import delete_script, get_script, list_script
from mr.cli.output import Output, add_workflow, plain, script
from mr.errors import UserError
from mr.kv import entities
from mr.kv.models import HANDLER_TYPES, Step
from mr.kv.store import Store


def _create_args(parser: argparse.ArgumentParser) -> None:
    add_workflow(parser)
    parser.add_argument("name", help="step name (what a mapper's MapTo names)")
    parser.add_argument("mapper", help="mapper handler")
    parser.add_argument("combiner", help="combiner handler, or '' for none")
    parser.add_argument("reducer", help="reducer handler, or '' for none: a map-only data "
                                        "step, whose splits each write a part of the result "
                                        "in input order")
    parser.add_argument("--description", default="")
    parser.add_argument("--partitions", type=int, metavar="R",
                        help="a data step's shuffle: R reducers run in parallel, one per "
                             "partition of the keys (default 1)")
    parser.add_argument("--partitioner", metavar="MODULE:FUNCTION",
                        help="a data step's own partitioner, called as f(key, R) -> 0..R-1 "
                             "(default: a stable hash of the key)")


def _create(kv: Store, args: argparse.Namespace) -> Output:
    if args.partitions is not None and args.partitions < 1:
        raise UserError(f"--partitions must be at least 1, not {args.partitions}")
    if args.partitioner is not None and ":" not in args.partitioner:
        raise UserError(f"--partitioner {args.partitioner!r}: give package.module:function")
    step = Step(args.workflow, args.name, mapper=args.mapper, reducer=args.reducer or None,
                combiner=args.combiner or None, description=args.description,
                partitions=args.partitions, partitioner=args.partitioner)
    entities.save(kv, step, create_only=True)
    return Output(plain(step), f"created step {step.name} in workflow {step.workflow}")


def _set_args(parser: argparse.ArgumentParser) -> None:
    add_workflow(parser)
    parser.add_argument("name", help="step name")
    parser.add_argument("-m", "--mapper", help="new mapper")
    parser.add_argument("-c", "--combiner", help="new combiner ('' removes it)")
    parser.add_argument("-r", "--reducer", help="new reducer ('' removes it: a map-only data "
                                                "step)")


def _set_handler(kv: Store, args: argparse.Namespace) -> Output:
    if args.mapper is None and args.combiner is None and args.reducer is None:
        raise UserError("give at least one of -m/--mapper, -c/--combiner, -r/--reducer")
    step = entities.require(kv, Step, args.workflow, args.name)
    before = plain(step)
    for role in HANDLER_TYPES:
        value = getattr(args, role)
        if value is not None:
            setattr(step, role, value or None)
    entities.save(kv, step)
    changes = {r: [before[r], getattr(step, r)] for r in HANDLER_TYPES
               if before[r] != getattr(step, r)}
    text = "\n".join(f"{args.name}: {r} {old or '-'} -> {new or '-'}"
                     for r, (old, new) in changes.items()) or f"{args.name}: nothing changed"
    return Output({"step": plain(step), "changes": changes}, text)


def _update_args(parser: argparse.ArgumentParser) -> None:
    add_workflow(parser)
    parser.add_argument("handler_type", choices=HANDLER_TYPES)
    parser.add_argument("if_name", help="the handler name steps refer to now")
    parser.add_argument("to_name", help="the handler to refer to instead (must exist, same type)")
    parser.add_argument("--simulate-only", "-s", action="store_true",
                        help="only report which steps would change")


def _update_handlers(kv: Store, args: argparse.Namespace) -> Output:
    changed = entities.rename_handler_references(kv, args.workflow, args.handler_type,
                                                 args.if_name, args.to_name, args.simulate_only)
    verb = "would update" if args.simulate_only else "updated"
    lines = [f"{verb} step {name}: {args.handler_type} {args.if_name} -> {args.to_name}"
             for name in changed]
    lines.append(f"{verb} {len(changed)} step(s)")
    return Output({"steps": changed, "simulated": args.simulate_only}, "\n".join(lines))


create = script("mr_kv_step_create", "Create a step; its handlers must exist and have the "
                "right type.", _create_args, _create)
get = get_script(Step)
list_ = list_script(Step, ["name", "mapper", "combiner", "reducer", "description"])
delete = delete_script(Step)
set_handler = script("mr_kv_step_set_handler", "Replace handlers of one step (checked).",
                     _set_args, _set_handler)
update_handlers = script("mr_kv_step_update_handlers", "In every step, replace references to "
                         "one handler by another of the same type.", _update_args,
                         _update_handlers)
