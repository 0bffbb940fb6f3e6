"""The records of one input split (mr.data.splits): text lines, JSON values, CSV rows or raw
blocks, each line that is not what its format needs said (file and byte) or skipped.

Lines are decoded a block of whole lines at a time (_LINE_BLOCK_BYTES, small enough to stay
in the CPU cache), and a line is looked at alone only in a block that needs it. CSV is read
a line per record, as Spark reads it unless told otherwise: each file's first line is its
header, and a quoted field cannot hold a line end (that line is malformed), so a split's
records never depend on where another split starts.
"""
from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Callable, Iterator

import orjson

from mr.data import json_codec
from mr.data.input_files import InputError
from mr.data.splits import SMALL_READ, Split, blocks, codec_of
from mr.fs.base import WorkflowFS

FORMATS = ("text", "jsonl", "csv", "raw")
# what a malformed line does: one not UTF-8, not JSON (jsonl) or not a row as wide as its
# header (csv)
MALFORMED = ("fail", "skip")
# Given the error a malformed line would raise: skips the line instead (None: it raises)
Malformed = Callable[[InputError], None] | None
BLOCK_BYTES = 1 << 20
_LINE_BLOCK_BYTES = 1 << 16   # decoding and splitting blocks this small stays in the CPU cache


def read_records(wfs: WorkflowFS, split: Split, fmt: str, malformed: Malformed = None,
                 read: Callable[[int], None] | None = None) -> Iterator:
    """The records of `split`: lines as str ("text"), parsed JSON values of non-blank lines
    ("jsonl"), a dict of str by the file's header per non-blank line ("csv"), or bytes blocks
    of whole lines ("raw", about BLOCK_BYTES each, to split fast). A line that is not UTF-8,
    or not JSON in "jsonl", or not a CSV row as wide as the header, raises InputError naming
    it, or with `malformed` is skipped after `malformed` gets that error.

    The file is opened when iteration starts and closed when it ends. `read` is told the
    size of each block of the split's own lines as it is read (uncompressed bytes).
    """
    if fmt not in FORMATS:
        raise InputError(f"unknown input format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt == "raw":
        return (block for _, block in _counted(blocks(wfs, split, BLOCK_BYTES), read))
    lines = _counted(blocks(wfs, split, _LINE_BLOCK_BYTES), read)
    if fmt == "text":   # chained in C: no Python frame per line
        return itertools.chain.from_iterable(_lines(split, offset, block, malformed)
                                             for offset, block in lines)
    if fmt == "csv":
        return _csv_rows(wfs, split, lines, malformed)
    return _json_values(split, lines, malformed)


def _counted(found: Iterator[tuple[int, bytes]],
             read: Callable[[int], None] | None) -> Iterator[tuple[int, bytes]]:
    if read is None:
        yield from found
        return
    for offset, block in found:
        read(len(block))
        yield offset, block


def _lines(split: Split, offset: int, block: bytes, malformed: Malformed) -> list[str]:
    """The lines of a block of whole lines, without their line endings."""
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError:
        return list(_decoded_lines(split, offset, block, malformed))
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    if not lines[-1]:
        lines.pop()
    return lines


def _decoded_lines(split: Split, offset: int, block: bytes,
                   malformed: Malformed) -> Iterator[str]:
    """The lines of `block` decoded one at a time, each that is not UTF-8 refused."""
    at = offset
    for raw in block.split(b"\n")[:-1 if block.endswith(b"\n") else None]:
        line = _decoded(split, at, raw, malformed)
        at += len(raw) + 1
        if line is not None:
            yield line


def _decoded(split: Split, offset: int, raw: bytes, malformed: Malformed) -> str | None:
    """One line (starting at byte `offset`) without its \\r, or None if it is not UTF-8 and
    `malformed` skips it."""
    try:
        return raw.decode("utf-8").removesuffix("\r")
    except UnicodeDecodeError as exc:
        _refuse(InputError(f"{_where(split, offset)} is not UTF-8 ({exc.reason}); read "
                           f"non-UTF-8 data with format 'raw'"), malformed)
        return None


def _refuse(error: InputError, malformed: Malformed) -> None:
    if malformed is None:
        raise error
    malformed(error)


def _json_values(split: Split, lines: Iterator[tuple[int, bytes]],
                 malformed: Malformed) -> Iterator:
    for offset, block in lines:
        if not json_codec.orjson_reads_exactly(block):
            yield from _json_values_slowly(split, offset, block, malformed)
            continue
        for index, line in enumerate(block.split(b"\n")):
            try:
                value = orjson.loads(line)   # JSON's whitespace takes a \r before the \n
            except orjson.JSONDecodeError:
                if line.strip():   # not blank (as the block's last, after its newline, is)
                    yield from _json_values_slowly(
                        split, offset + _line_start(block, index), line, malformed)
                continue
            yield value


def _json_values_slowly(split: Split, offset: int, block: bytes,
                        malformed: Malformed) -> Iterator:
    """The values of the non-blank lines of `block` (whole lines, from byte `offset`), read
    by the json module, whose errors name the line."""
    at = offset
    for raw in block.split(b"\n"):
        start, at = at, at + len(raw) + 1
        line = _decoded(split, start, raw, malformed)
        if line and not line.isspace():
            try:
                yield json.loads(line)
            except ValueError as exc:
                _refuse(InputError(f"{_where(split, start)} is not JSON: {exc}"), malformed)


def _line_start(block: bytes, index: int) -> int:
    """Where line `index` of `block` starts, from the block's start."""
    at = 0
    for _ in range(index):
        at = block.index(b"\n", at) + 1
    return at


def _where(split: Split, offset: int) -> str:
    unit = "uncompressed byte" if codec_of(split.path) else "byte"
    return f"input {split.path}: the line at {unit} {offset}"


def _csv_rows(wfs: WorkflowFS, split: Split, lines: Iterator[tuple[int, bytes]],
              malformed: Malformed) -> Iterator[dict]:
    header: list[str] | None = None
    if split.start > 0:   # the header is the file's first line, which the file's split 0 owns
        first = next(blocks(wfs, Split(split.path, 0, 1), SMALL_READ), (0, b""))[1]
        header = _csv_header(split, first)
    for offset, block in lines:
        if header is None:
            end = block.find(b"\n") + 1 or len(block)
            header = _csv_header(split, block[:end])
            offset, block = offset + end, block[end:]
        yield from _csv_block(split, offset, block, header, malformed)


def _csv_header(split: Split, line: bytes) -> list[str]:
    try:
        names = next(csv.reader([line.decode("utf-8-sig").rstrip("\r\n")], strict=True), [])
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"input {split.path}: its first line is not a CSV header ({exc})"
                         ) from None
    if not names or not any(names):
        raise InputError(f"input {split.path}: its first line, a CSV file's header, is empty")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InputError(f"input {split.path}: its CSV header names {', '.join(repeated)} "
                         f"more than once")
    return names


def _csv_block(split: Split, offset: int, block: bytes, header: list[str],
               malformed: Malformed) -> Iterator[dict]:
    """The rows of a block of whole lines; without quotes, a line is a row, parsed in C."""
    try:
        text = block.decode("utf-8")
        if '"' not in text:
            rows = list(csv.reader(text.replace("\r\n", "\n").split("\n"), strict=True))
            width = len(header)
            if all(len(row) == width or not row for row in rows):
                return (dict(zip(header, row)) for row in rows if row)
    except (UnicodeDecodeError, csv.Error):
        pass
    return _csv_lines(split, offset, block, header, malformed)


def _csv_lines(split: Split, offset: int, block: bytes, header: list[str],
               malformed: Malformed) -> Iterator[dict]:
    """The rows of `block` a line at a time, each line that is not a row refused."""
    at = offset
    for raw in block.split(b"\n"):
        start, at = at, at + len(raw) + 1
        line = _decoded(split, start, raw, malformed)
        if not line:
            continue
        try:
            row = next(csv.reader([line], strict=True))
        except csv.Error as exc:
            _refuse(InputError(f"{_where(split, start)} is not a CSV row ({exc}; a quoted "
                               f"field cannot hold a line end)"), malformed)
            continue
        if len(row) != len(header):
            _refuse(InputError(f"{_where(split, start)} has {len(row)} CSV fields, its "
                               f"header {len(header)}"), malformed)
            continue
        yield dict(zip(header, row))
