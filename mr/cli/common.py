"""What every console script shares: logging set-up and turning known errors into exit codes."""
from __future__ import annotations

import json
import logging
import os
import signal
import sys
from collections.abc import Callable

from mr.config import ConfigError
from mr.errors import UserError
from mr.kv.client import EtcdSecurityError, EtcdUnavailable


def stop_on_ctrl_c() -> None:
    """Let SIGINT end a script that follows something until Ctrl-C, however it was started:
    a shell starts a background job with SIGINT ignored, Python then installs no handler of
    its own, and `kill -INT` would be lost on a `--watch` loop."""
    signal.signal(signal.SIGINT, signal.default_int_handler)


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s")


def run(main: Callable[[], int | None], as_json: bool | None = None) -> None:
    """Run a script's main(); known failures become one clear line on stderr: JSON
    ({"error": ..., "exit": ...}) when the script was asked for JSON (`as_json`, by default
    whether --json is on the command line)."""
    if as_json is None:
        as_json = "--json" in sys.argv[1:]
    message = None
    try:
        code = main()
        sys.stdout.flush()   # here, so that a reader gone away is caught below, not at exit
    except (UserError, ConfigError) as exc:
        message, code = str(exc), 2
    except EtcdSecurityError as exc:  # etcd answered, but refused us: the text says what to fix
        message, code = str(exc), 3
    except EtcdUnavailable as exc:
        message, code = f"{str(exc).rstrip('.')} Start etcd or set MR_ETCD_HOSTS.", 3
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as a Unix tool killed by SIGPIPE does
        # (141), and point stdout at /dev/null so the flush at exit cannot complain again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 128 + 13
    if message is not None:
        print(json.dumps({"error": message, "exit": code}) if as_json else f"error: {message}",
              file=sys.stderr)
    sys.exit(code or 0)
