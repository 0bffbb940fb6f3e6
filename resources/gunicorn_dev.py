"""gunicorn settings for one machine: a TCP port, two gevent workers, logs to the terminal."""
import os

from mr.web.gunicorn_hooks import (
    answer_errors_in_json,
    child_exit,  # noqa: F401  (a gunicorn hook)
    prepare_multiprocess,
)
from mr.web.gunicorn_hooks import control_socket as control_socket_of

bind = os.environ.get("MR_HTTP_BIND", "127.0.0.1:8080")
control_socket = control_socket_of(bind)   # this front-end's own (gunicornc -s PATH)
workers = int(os.environ.get("MR_HTTP_WORKERS", "2"))
worker_class = "gevent"
worker_connections = 1000
timeout = 30            # gevent workers heartbeat between greenlets; long waits are fine
graceful_timeout = 20
accesslog = "-"
errorlog = "-"
loglevel = "info"

prepare_multiprocess()  # /metrics adds up every worker process's counters
answer_errors_in_json()  # gunicorn's own 400/414/431 answers in JSON, like ours
