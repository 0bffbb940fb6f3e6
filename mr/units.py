"""How the engine's counts read to people, the same in the scripts and the web view: a byte
count as a size, and a tally whose name says it counts bytes (the engine's mr.input_bytes, a
handler's "..._bytes") with its size beside it."""
from __future__ import annotations


def size(count: int) -> str:
    """A byte count as people read it: 1536 -> "1.5 KiB"."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if round(abs(value), 1) < 1024:   # 1023.96 MiB reads as 1.0 GiB, not 1024.0 MiB
            return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def tally_text(name: str, n: int, grouped: bool = False) -> str:
    """`n` (with thousands separators if `grouped`), and its size if tally `name` counts
    bytes and `n` is a KiB or more: "1073741768 (1.0 GiB)"."""
    shown = f"{n:,}" if grouped else str(n)
    return f"{shown} ({size(n)})" if name.endswith("_bytes") and abs(n) >= 1024 else shown
