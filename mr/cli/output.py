"""What every admin and tracing script shares: argument parsing, the etcd client, error
handling and printing (human text by default, JSON with --json).

A script is an `action(kv, args) -> Output`; `script()` turns it into `main(argv) -> int`
(callable in-process by tests) with a `.console` entry point for setup.py.
"""
from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, is_dataclass
from typing import Any

from mr import config
from mr.cli.common import run, setup_logging
from mr.engine import listing
from mr.errors import UserError
from mr.kv import client as kv_client
from mr.kv.entities import EntityError
from mr.kv.store import Store


@dataclass
class Output:
    """What a script prints: `data` for --json, `text` (or text derived from data) for people."""
    data: Any
    text: str | None = None


Action = Callable[[Store, argparse.Namespace], Output]
Arguments = Callable[[argparse.ArgumentParser], None]


def connect() -> Store:
    settings = config.load()
    return kv_client.client(settings.etcd_hosts, settings.etcd_timeout_s)


def plain(value: Any) -> Any:
    """Dataclasses become dicts, so entities print as JSON."""
    return asdict(value) if is_dataclass(value) and not isinstance(value, type) else value


def when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.datetime.fromtimestamp(epoch).isoformat(sep=" ", timespec="milliseconds")


def fields_text(record: dict, skip: tuple[str, ...] = ()) -> str:
    """`name: value` lines, names aligned; multi-line values are indented below their name."""
    shown = {k: v for k, v in record.items() if k not in skip}
    width = max((len(k) for k in shown), default=0)
    lines = []
    for name, value in shown.items():
        if isinstance(value, float) and name in ("created", "finished", "started", "deadline"):
            value = when(value)
        elif isinstance(value, (dict, list)):
            value = json.dumps(value, default=str)
        text = "-" if value is None or value == "" else str(value)
        if "\n" in text:
            lines.append(f"{name}:")
            lines += ["    " + line for line in text.rstrip("\n").splitlines()]
        else:
            lines.append(f"{name + ':':<{width + 1}} {text}")
    return "\n".join(lines)


def table(rows: list[dict], columns: list[str], empty: str = "(none)") -> str:
    """A plain left-aligned table with a header line."""
    if not rows:
        return empty
    cells = [[("-" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


def emit(result: Output, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.data, indent=2, sort_keys=True, default=str))
    elif result.text is not None:
        if result.text:   # "" when the action printed its output itself (a stream)
            print(result.text)
    elif isinstance(result.data, dict):
        print(fields_text(result.data))
    else:
        print(result.data)


class Script:
    """A script's `main(argv=None) -> int`, with its `prog` and the `console` entry point."""

    def __init__(self, prog: str, main: Callable[[list[str] | None], int]):
        self.prog, self._main = prog, main

    def __call__(self, argv: list[str] | None = None) -> int:
        return self._main(argv)

    def console(self) -> None:
        sys.exit(self())


def script(prog: str, description: str, arguments: Arguments, action: Action,
           json_flag: bool = True) -> Script:
    """Build `main(argv=None) -> int`: errors become one line on stderr and an exit status
    (2 for a user error, 3 when etcd does not answer), never a traceback."""
    def build() -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(prog=prog, description=description)
        arguments(parser)
        if json_flag:
            parser.add_argument("--json", action="store_true", help="print JSON for machines")
        return parser

    def body(argv) -> int:
        args = build().parse_args(argv)
        setup_logging("WARNING")
        try:
            kv = connect()
            if getattr(args, "request_id", None):   # a request's name stands in for its id
                args.request_id = listing.request_id_of(kv, args.workflow, args.request_id)
            result = action(kv, args)
        except (EntityError, ValueError) as exc:
            raise UserError(str(exc)) from None
        emit(result, getattr(args, "json", False))
        return 0

    def main(argv: list[str] | None = None) -> int:
        try:
            run(lambda: body(argv), as_json="--json" in (sys.argv[1:] if argv is None else argv))
        except SystemExit as exc:
            if exc.code is None or isinstance(exc.code, int):
                return exc.code or 0
            print(exc.code, file=sys.stderr)
            return 1
        return 0

    return Script(prog, main)


def add_workflow(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("workflow", help="workflow name")


def add_request(parser: argparse.ArgumentParser) -> None:
    add_workflow(parser)
    parser.add_argument("request_id", help="request id (as returned by POST /job/...), or "
                                           "the request's name")


def require(found: Any, what: str) -> Any:
    """`found`, or a UserError naming the missing thing."""
    if found is None:
        raise UserError(f"{what} does not exist")
    return found
