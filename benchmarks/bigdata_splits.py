"""Byte-range splits of one file and the whole lines each owns, read in blocks.

The same rule as the engine's (DESIGN.md §3b, Hadoop's): a split owns the lines that *start*
inside its byte range, so the ranges can be cut anywhere and every line is read exactly once.
The plain process reads its one range this way and every Ray task one split, with the same
ranges as the engine's splits.
"""
from __future__ import annotations

from collections.abc import Iterator

BLOCK_BYTES = 1 << 20


def ranges(size: int, split_bytes: int) -> list[tuple[int, int]]:
    """[start, end) byte ranges of `split_bytes` covering a file of `size` bytes."""
    if split_bytes <= 0:
        raise ValueError(f"split_bytes must be positive, not {split_bytes}")
    return [(start, min(start + split_bytes, size)) for start in range(0, size, split_bytes)]


def read_blocks(path: str, start: int, end: int,
                block_bytes: int = BLOCK_BYTES) -> Iterator[bytes]:
    """The lines starting in [start, end), newlines kept, in blocks of about `block_bytes`
    that end at a line's end (a block grows by the rest of the line it stops in)."""
    with open(path, "rb") as file:
        if start > 0:
            file.seek(start - 1)
            file.readline()  # the line byte start-1 is in belongs to the split before
        position = file.tell()
        while position < end:
            block = file.read(min(block_bytes, end - position))
            if not block:
                return
            if not block.endswith(b"\n"):
                block += file.readline()
            position += len(block)
            yield block
