"""The big-data benchmark's inputs: generated text, the same bytes on every run for a seed.

Two kinds of file, each of a given size in MB (2**20 bytes, less the part of a line that
would not fit):

  text   words-<size>mb-s<seed>.txt: lines of 12 words separated by single spaces
  jsonl  records-<size>mb-s<seed>.jsonl: one JSON object a line, {"id": <n>, "text": "<12
         words>"}, ids 0, 1, 2, ... in file order

Words are drawn from a Zipf distribution (exponent 1) over a vocabulary of 100,000 synthetic
lowercase words, the shorter words the more frequent, as in natural text. Sampling looks words
up in a table of 2**24 slots (every word holds at least 14, so the rarest are within a few per
cent of their Zipf weight) with one C-level itemgetter over random bytes instead of a Python
loop per word: over twice as fast as random.choices. Each chunk of lines has its own seed, so
the bytes do not depend on how many processes generate them; files are written under a
temporary name and renamed when whole, so a cached file is always complete.
"""
from __future__ import annotations

import itertools
import math
import multiprocessing
import os
import signal
import sys
import time
from array import array
from collections.abc import Callable
from operator import itemgetter
from pathlib import Path
from random import Random

VOCABULARY = 100_000
WORDS_PER_LINE = 12
LINES_PER_CHUNK = 50_000
TABLE_BITS = 24  # a multiple of 8: indices are random bytes with the high ones zeroed
MB = 1 << 20
KINDS = ("text", "jsonl")
_RECORD = '{{"id": {}, "text": "{}"}}'.format


def vocabulary(seed: int) -> list[str]:
    """VOCABULARY distinct lowercase words in rank order: a word's length grows with the log
    of its rank, as in natural text (about 5 letters a word of text, 8.6 a distinct word)."""
    rng = Random(f"{seed}:vocabulary")
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: dict[str, None] = {}
    for rank in range(1, VOCABULARY + 1):
        length = min(16, max(2, round(1 + 0.5 * math.log2(rank) + rng.gauss(0, 1))))
        word = "".join(rng.choices(letters, k=length))
        while word in words:  # short lengths run out of words: grow until it is new
            word += rng.choice(letters)
        words[word] = None
    return list(words)


def zipf_table(words: list[str]) -> list[str]:
    """2**TABLE_BITS slots, word of rank r holding about 2**TABLE_BITS / (r * H) of them."""
    size = 1 << TABLE_BITS
    weights = [1.0 / rank for rank in range(1, len(words) + 1)]
    scale = size / sum(weights)
    slots = [max(1, round(w * scale)) for w in weights]
    slots[0] += size - sum(slots)  # rounding's remainder goes to the most frequent word
    table: list[str] = []
    for word, count in zip(words, slots):
        table.extend(itertools.repeat(word, count))
    return table


def _indices(rng: Random, count: int) -> array:
    """`count` uniform integers below 2**TABLE_BITS, without a Python loop per integer."""
    raw = bytearray(rng.randbytes(4 * count))
    for byte in range(TABLE_BITS // 8, 4):  # zero the high bytes of each little-endian uint32
        raw[byte::4] = bytes(count)
    values = array("I", raw)
    if sys.byteorder == "big":
        values.byteswap()
    return values


_TABLES: dict[int, list[str]] = {}


def chunk_lines(seed: int, kind: str, chunk: int) -> bytes:
    """Chunk number `chunk` of a file of `kind`: LINES_PER_CHUNK lines, each ending in \\n."""
    table = _TABLES.get(seed)
    if table is None:
        table = _TABLES.setdefault(seed, zipf_table(vocabulary(seed)))
    rng = Random(f"{seed}:{kind}:{chunk}")
    words = iter(itemgetter(*_indices(rng, LINES_PER_CHUNK * WORDS_PER_LINE).tolist())(table))
    lines = map(" ".join, zip(*[words] * WORDS_PER_LINE))
    if kind == "jsonl":
        first = chunk * LINES_PER_CHUNK
        lines = map(_RECORD, range(first, first + LINES_PER_CHUNK), lines)
    return ("\n".join(lines) + "\n").encode()


def _chunk_job(job: tuple[int, str, int]) -> bytes:
    return chunk_lines(*job)


def path_for(directory: Path, kind: str, size_mb: int, seed: int) -> Path:
    if kind == "text":
        return directory / f"words-{size_mb}mb-s{seed}.txt"
    if kind == "jsonl":
        return directory / f"records-{size_mb}mb-s{seed}.jsonl"
    raise ValueError(f"unknown corpus kind {kind!r}; choose from {', '.join(KINDS)}")


def ensure(directory: Path, kind: str, size_mb: int, seed: int,
           progress: Callable[[str], None] = print, processes: int | None = None) -> Path:
    """The corpus file, generated unless a complete one is already there."""
    path = path_for(directory, kind, size_mb, seed)
    if path.exists():
        return path
    directory.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    target, written, chunk = size_mb * MB, 0, 0  # whole lines, the last one ending by target
    started = time.monotonic()
    processes = processes or os.cpu_count() or 1
    reported = 0
    # signal.SIG_DFL: a terminated pool worker just exits (the parent may handle SIGTERM).
    # spawn, not fork: a forked child of a process with threads (gRPC's, a test run's) can
    # inherit a lock held by one of them and hang, and the pool's exit with it.
    pool = multiprocessing.get_context("spawn").Pool(processes, signal.signal,
                                                     (signal.SIGTERM, signal.SIG_DFL))
    with open(partial, "wb") as out, pool:
        while written < target:
            batch = [(seed, kind, n) for n in range(chunk, chunk + 2 * processes)]
            chunk += len(batch)
            for data in pool.imap(_chunk_job, batch):
                if written + len(data) >= target:
                    data = data[:data.rfind(b"\n", 0, target - written) + 1]
                    target = written + len(data)
                out.write(data)
                written += len(data)
                if written >= target:
                    break
            if written * 10 // target > reported:
                reported = written * 10 // target
                progress(f"corpus {path.name}: {written / MB:,.0f} of {size_mb:,} MB "
                         f"({time.monotonic() - started:.1f} s)")
    partial.rename(path)
    return path
