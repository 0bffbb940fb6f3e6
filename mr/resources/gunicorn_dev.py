"""gunicorn settings for one machine: a TCP port, two gevent workers, logs to the terminal."""
import os

from mr.web.gunicorn_hooks import child_exit, prepare_multiprocess  # noqa: F401

bind = os.environ.get("MR_HTTP_BIND", "127.0.0.1:8080")
workers = int(os.environ.get("MR_HTTP_WORKERS", "2"))
worker_class = "gevent"
worker_connections = 1000
timeout = 30            # gevent workers heartbeat between greenlets; long waits are fine
graceful_timeout = 20
accesslog = "-"
errorlog = "-"
loglevel = "info"

prepare_multiprocess()  # /metrics adds up every worker process's counters
