"""What every console script shares: logging set-up and turning known errors into exit codes."""
from __future__ import annotations

import logging
import os
import sys
from typing import Callable

from mr.config import ConfigError
from mr.kv.client import EtcdSecurityError, EtcdUnavailable


class UserError(Exception):
    """A problem the user can fix; printed without a traceback, exit status 2."""


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s")


def run(main: Callable[[], int | None]) -> None:
    """Run a script's main(); known failures become one clear line on stderr."""
    try:
        code = main()
        sys.stdout.flush()   # here, so that a reader gone away is caught below, not at exit
    except (UserError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = 2
    except EtcdSecurityError as exc:  # etcd answered, but refused us: the text says what to fix
        print(f"error: {exc}", file=sys.stderr)
        code = 3
    except EtcdUnavailable as exc:
        print(f"error: {str(exc).rstrip('.')} Start etcd or set MR_ETCD_HOSTS.",
              file=sys.stderr)
        code = 3
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as a Unix tool killed by SIGPIPE does
        # (141), and point stdout at /dev/null so the flush at exit cannot complain again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 128 + 13
    sys.exit(code or 0)
