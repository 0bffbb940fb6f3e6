"""The README's shell examples as data: every literal block whose lines are commands, where
it starts, and whether the README marks it as one the README test does not run.

A block is introduced by a paragraph ending in ``::``. It is a *shell* block when its first
line starts with a command name (curl, an ``mr_`` script, etcdctl, scripts/...); other blocks
(JSON, output, tables, code) are left alone. A shell block is not run when the line before
its paragraph is an RST comment ``.. README test: not run (why)``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

COMMANDS = re.compile(r"^(curl|mr_|\.venv/|scripts/|etcdctl|etcd |nsqd|nsqlookupd|python|"
                      r"MR_[A-Z_]+=)")
NOT_RUN = re.compile(r"^\.\. README test: not run \((.+)\)$")


@dataclass
class Block:
    line: int                 # where its first command is in README.rst (1-based)
    commands: list[str]       # one per command, continuation lines joined
    not_run: str | None       # why the README test skips it, when it is marked so


def shell_blocks(readme: Path) -> list[Block]:
    lines = readme.read_text(encoding="utf-8").split("\n")
    blocks = []
    for index, line in enumerate(lines):
        if not line.rstrip().endswith("::") or line.lstrip().startswith(".."):
            continue
        body, start = _body(lines, index + 1)
        if body and COMMANDS.match(body[0]):
            blocks.append(Block(start + 1, _commands(body), _mark(lines, index)))
    return blocks


def _body(lines: list[str], at: int) -> tuple[list[str], int]:
    """The lines after a `::` paragraph indented deeper than it (as in a list item), dedented
    by the first one's indent; and where they start."""
    paragraph = _indent(lines[at - 1])
    while at < len(lines) and not lines[at].strip():
        at += 1
    indent = _indent(lines[at]) if at < len(lines) else 0
    if indent <= paragraph:
        return [], at
    start, body = at, []
    while at < len(lines) and (not lines[at].strip() or _indent(lines[at]) >= indent):
        body.append(lines[at][indent:])
        at += 1
    while body and not body[-1].strip():
        body.pop()
    return body, start


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _commands(body: list[str]) -> list[str]:
    commands, pending = [], ""
    for line in body:
        if not line.strip():
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        commands.append(pending.strip())
        pending = ""
    return commands


def _mark(lines: list[str], at: int) -> str | None:
    """The reason of a `.. README test: not run (…)` comment just before the paragraph that
    introduces the block at line `at`."""
    while at > 0 and lines[at - 1].strip():
        at -= 1                       # back to the paragraph's first line
    while at > 0 and not lines[at - 1].strip():
        at -= 1
    found = NOT_RUN.match(lines[at - 1].strip()) if at > 0 else None
    return found.group(1) if found else None
