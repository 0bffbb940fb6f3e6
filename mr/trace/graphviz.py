"""Graphviz's `dot` turning an invocation tree's source (mr.trace.render.dot) into an image.

Both the tracing script (mr_draw_invocation_graph) and the web view's request graph draw
through it, so it sits with the tracing code both of them use.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from mr.errors import UserError


def render_image(source: str, target: Path, fmt: str) -> None:
    """Run `dot -T<fmt>`; a clear UserError when graphviz is not installed or fails.

    Spawned with posix_spawn, not fork: a front-end runs this inside a gevent + grpc process,
    and a forked child running grpc's fork handlers aborted before it could exec dot.
    """
    binary = shutil.which("dot")
    if binary is None:
        raise UserError("graphviz's 'dot' program is not installed (apt-get install graphviz); "
                        "use -o to write the .dot source instead")
    with tempfile.TemporaryDirectory(prefix="mr-dot-") as tmp:
        dot_file, err_file = Path(tmp) / "graph.dot", Path(tmp) / "dot.err"
        dot_file.write_text(source)
        err = os.open(err_file, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            pid = os.posix_spawn(binary, [binary, f"-T{fmt}", "-o", str(target), str(dot_file)],
                                 os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, err, 2)])
        finally:
            os.close(err)
        code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        if code != 0:
            raise UserError(f"dot failed ({code}): {err_file.read_text(errors='replace')}")
