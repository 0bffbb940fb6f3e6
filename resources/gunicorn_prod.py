"""gunicorn settings behind nginx (nginx/mr.conf): a unix socket, one worker per core."""
import multiprocessing
import os

from mr.web.gunicorn_hooks import (
    answer_errors_in_json,
    child_exit,  # noqa: F401  (a gunicorn hook)
    prepare_multiprocess,
)
from mr.web.gunicorn_hooks import control_socket as control_socket_of

bind = os.environ.get("MR_HTTP_BIND", "unix:/run/mr/gunicorn.sock")
control_socket = control_socket_of(bind)   # this front-end's own (gunicornc -s PATH)
workers = int(os.environ.get("MR_HTTP_WORKERS", str(multiprocessing.cpu_count())))
worker_class = "gevent"
worker_connections = 2000
timeout = 30
graceful_timeout = 30
keepalive = 5
accesslog = "-"
errorlog = "-"
loglevel = "warning"
forwarded_allow_ips = "127.0.0.1"

prepare_multiprocess()  # /metrics adds up every worker process's counters
answer_errors_in_json()  # gunicorn's own 400/414/431 answers in JSON, like ours
