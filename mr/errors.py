"""UserError: a problem the person running mr can fix (a missing program, a wrong name).

Front ends show it as it is: a console script prints it without a traceback and exits 2
(mr.cli.common.run), the web view answers with its text. It lives at the bottom of the layers
because the code that finds such problems (launchers, the graphviz runner, the scripts) sits at
many levels.
"""
from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix; printed without a traceback, exit status 2."""
