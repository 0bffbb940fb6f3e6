"""Progress for people: a redrawn bar on a terminal, plain lines (at most one a second)
when the output is a file or a pipe."""
from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 30


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def bar(fraction: float, width: int = WIDTH) -> str:
    filled = int(round(max(0.0, min(fraction, 1.0)) * width))
    return "[" + "#" * filled + "." * (width - filled) + "]"


class ProgressLine:
    """Shows successive states of one piece of work; `finish()` ends the line."""

    def __init__(self, stream: TextIO | None = None, plain_every: float = 1.0):
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        self.plain_every = plain_every
        self._last_plain = float("-inf")   # the first line shows, however young the host
        self._last_line = ""
        self._width = 0

    def show(self, fraction: float, text: str, force: bool = False) -> None:
        line = f"{bar(fraction)} {100 * fraction:5.1f}% {text}"
        if self.tty:
            pad = max(self._width - len(line), 0)
            self.stream.write("\r" + line + " " * pad)
            self._width = len(line)
        else:
            now = time.monotonic()
            if line == self._last_line or (not force and now - self._last_plain
                                           < self.plain_every):
                return
            self._last_plain, self._last_line = now, line
            self.stream.write(line + "\n")
        self.stream.flush()

    def finish(self, fraction: float, text: str) -> None:
        self.show(fraction, text, force=True)
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
