"""mr_kv_handler_store: sync a directory of handler files into a workflow."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from mr import config
from mr.cli.common import run, setup_logging
from mr.errors import UserError
from mr.handlers import sync
from mr.handlers.source import HandlerSourceError
from mr.kv import client as kv_client
from mr.kv.entities import EntityError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="mr_kv_handler_store",
        description="Push new and changed handlers from DIRECTORY into WORKFLOW, skip unchanged "
                    "ones, remove handlers with no file that no step uses. Nothing is written "
                    "if any file fails to parse or compile.")
    parser.add_argument("workflow")
    parser.add_argument("directory", type=Path)
    parser.add_argument("--simulate-only", action="store_true",
                        help="show what would change without writing")
    parser.add_argument("--force-update", action="store_true",
                        help="rewrite every handler even if its version is unchanged")
    parser.add_argument("--json", action="store_true", help="machine-readable summary")
    args = parser.parse_args(argv)
    setup_logging("WARNING")
    settings = config.load()
    kv = kv_client.client(settings.etcd_hosts, settings.etcd_timeout_s)
    try:
        plan = sync.plan(kv, args.workflow, args.directory, args.force_update)
    except (HandlerSourceError, EntityError) as exc:
        raise UserError(f"{exc} (nothing was written)") from None
    revision = 0 if args.simulate_only else sync.apply(kv, args.workflow, plan)
    if args.json:
        print(json.dumps({
            "added": [h.name for h in plan.added], "updated": [h.name for h in plan.updated],
            "unchanged": plan.unchanged, "removed": plan.removed, "kept": plan.kept,
            "simulated": args.simulate_only, "revision": revision}))
    else:
        for label, names in (("add", [h.name for h in plan.added]),
                             ("update", [h.name for h in plan.updated]),
                             ("remove", plan.removed)):
            for name in names:
                print(f"{'would ' if args.simulate_only else ''}{label} {name}")
        print(plan.summary() + (" (simulated: nothing written)" if args.simulate_only else ""))
    return 0


def console() -> None:
    run(main)


if __name__ == "__main__":
    console()
