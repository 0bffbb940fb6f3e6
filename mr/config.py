"""Every setting of every process, read from MR_* environment variables in this one place.

Defaults work for the single-machine dev cluster (`mr_dev_cluster`).
"""
from __future__ import annotations

import difflib
import logging
import os
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

# MR_* variables read outside Settings: by scripts and launchers.
OTHER_VARIABLES = frozenset({"MR_URL", "MR_TOKEN", "MR_DEV_DIR", "MR_TOPOLOGY_DIR",
                             "MR_HTTP_BIND", "MR_HTTP_WORKERS"})
# Set by a worker for the subprocess handlers it runs, not read by any process of ours.
HANDLER_ENVIRONMENT = frozenset({"MR_ATTEMPT", "MR_FS_ROOT", "MR_HANDLER", "MR_HANDLER_VERSION",
                                 "MR_INVOCATION_ID", "MR_REQUEST_ID", "MR_STEP",
                                 "MR_WORKFLOW"})
# prometheus_client's multiprocess directory: the gunicorn master sets it (mr.web's hooks)
# before forking, and mr.metrics reads it; here so that neither imports the other.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_warned: set[str] = set()


class ConfigError(ValueError):
    """An MR_* variable has a value that cannot be used; the message names it."""


def _list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _bool(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def _mapping(value: str) -> dict[str, str]:
    """"a=x,b=y" -> {"a": "x", "b": "y"}."""
    pairs = {}
    for part in _list(value):
        name, sep, target = part.partition("=")
        if not sep or not name.strip() or not target.strip():
            raise ValueError(f"{part!r} is not name=value")
        pairs[name.strip()] = target.strip()
    return pairs


def _at_least_1(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError("must be at least 1")
    return number


def _one_of(*choices: str):
    def choose(value: str) -> str:
        choice = value.strip().lower()
        if choice not in choices:
            raise ValueError(f"use one of {', '.join(choices)}")
        return choice
    return choose


SMTP_TLS_MODES = ("none", "starttls", "ssl")
_smtp_tls = _one_of(*SMTP_TLS_MODES)


@dataclass(frozen=True)
class Settings:
    etcd_hosts: list[str] = field(default_factory=lambda: ["127.0.0.1:2379"])
    # nsqd TCP addresses: where workers consume when no lookupd is configured.
    nsqd_hosts: list[str] = field(default_factory=lambda: ["127.0.0.1:4150"])
    # nsqd HTTP addresses: where front-ends and workers publish (in order, with failover).
    nsqd_http_hosts: list[str] = field(default_factory=lambda: ["127.0.0.1:4151"])
    # nsqlookupd HTTP addresses: when set, workers discover brokers through them.
    nsqlookupd_hosts: list[str] = field(default_factory=list)
    workflow_names: list[str] = field(default_factory=list)
    capabilities: list[str] = field(default_factory=lambda: ["general"])
    channel: str = "workers"
    concurrency: int = 32
    # Split maps and partition reducers a worker runs at once: they are CPU-bound Python, so
    # one per worker process (and one worker process per core) keeps every core busy.
    data_concurrency: int = 1
    split_bytes: int = 32 * 1024 * 1024    # a data job's split size unless it names one
    # "process": each split's map and partition's reduce in a fresh process (a fresh heap,
    # memory back to the system, time limits that kill); "thread": in the worker itself.
    data_isolation: str = "process"
    # a data run still going this long is marked running in etcd (shown, and duplicates skip
    # it); shorter ones write only their completion. Capped at half MR_STALL_S.
    data_claim_after_s: float = 30.0
    # a mapper still running this long is marked running in etcd; one that returns sooner
    # commits its claim with its result, in one transaction. Capped at half MR_STALL_S.
    claim_after_s: float = 0.25
    data_dir: str = "/tmp/mr/data"
    result_dir: str = ""   # empty: the file writer writes into the workflow's shared fs
    cleanup: bool = True
    request_timeout_s: float = 300.0
    retention_s: float = 86400.0           # a done unnamed request's record is kept this long
    failed_retention_s: float = 7 * 86400.0  # failed/cancelled ones, with their invocations
    trace_retention_s: float = 7 * 86400.0   # a request's trace document (0: none written)
    sweep_interval_s: float = 5.0          # how often a worker's sweeper looks (one acts)
    stall_s: float = 120.0                 # no progress this long: re-publish unfinished work
    metrics_port: int = 0                  # a worker's /metrics: 0 any free port, -1 none
    max_depth: int = 32                    # levels of fan-out (a looping step graph stops)
    engine_error_attempts: int = 3         # deliveries before an engine bug fails the request
    front_end_name: str = ""               # a front-end's name in request contexts (hostname)
    max_body_bytes: int = 1024 * 1024
    body_timeout_s: float = 15.0   # a POST whose body stops arriving this long: 408, not a hang
    blob_threshold_bytes: int = 256 * 1024
    msg_timeout_s: float = 60.0
    etcd_timeout_s: float = 10.0
    # workflow -> "package.module:function", overriding the workflow's own scope_factory
    scope_factories: dict[str, str] = field(default_factory=dict)
    # Root of the per-workflow shared file areas (a directory or an fsspec URL such as
    # s3://bucket/mr); empty means file://<data_dir>/shared.
    shared_fs_url: str = ""
    # Notifications (mr/notify): which events are sent, and where.
    notify_events: list[str] = field(
        default_factory=lambda: ["handler_exception", "request_failed", "library_updated",
                                 "custom"])
    notify_webhook_urls: list[str] = field(default_factory=list)
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)   # kept out of logs
    smtp_tls: str = "none"
    smtp_ca_file: str = ""   # trust this CA (PEM) instead of the system's, e.g. a private CA
    notify_email_from: str = "mr@localhost"
    notify_email_to: list[str] = field(default_factory=list)
    # Security: etcd user and TLS, front-end bearer tokens, TLS to nsqd.
    etcd_user: str = ""
    etcd_password: str = field(default="", repr=False)
    etcd_ca_cert: str = ""    # PEM file: verify etcd's certificate (turns TLS on)
    etcd_cert: str = ""       # PEM client certificate and key, for --client-cert-auth
    etcd_key: str = ""
    auth_tokens_file: str = ""  # one token a line ("token" or "name:token"); turns auth on
    auth_tokens: list[str] = field(default_factory=list, repr=False)
    nsqd_tls: bool = False    # workers upgrade their nsqd connections to TLS
    nsqd_tls_ca_cert: str = ""
    nsqd_tls_cert: str = ""
    nsqd_tls_key: str = ""


def load(environ: dict[str, str] | None = None) -> Settings:
    """Build Settings from the environment (MR_* variables); unset ones keep their defaults."""
    env = os.environ if environ is None else environ
    defaults = Settings()
    read: set[str] = set()

    def get(name: str, convert, default):
        read.add("MR_" + name)
        raw = env.get("MR_" + name)
        if raw is None or raw == "":
            return default
        try:
            return convert(raw)
        except ValueError as exc:
            raise ConfigError(f"MR_{name}={raw!r} is not valid: {exc}") from None

    settings = Settings(
        etcd_hosts=get("ETCD_HOSTS", _list, defaults.etcd_hosts),
        nsqd_hosts=get("NSQD_HOSTS", _list, defaults.nsqd_hosts),
        nsqd_http_hosts=get("NSQD_HTTP_HOSTS", _list, defaults.nsqd_http_hosts),
        nsqlookupd_hosts=get("NSQLOOKUPD_HOSTS", _list, defaults.nsqlookupd_hosts),
        workflow_names=get("WORKFLOW_NAMES", _list, defaults.workflow_names),
        capabilities=get("CAPABILITIES", lambda v: [c.lower() for c in _list(v)],
                         defaults.capabilities),
        channel=get("CHANNEL", str, defaults.channel),
        concurrency=get("CONCURRENCY", int, defaults.concurrency),
        data_concurrency=get("DATA_CONCURRENCY", _at_least_1, defaults.data_concurrency),
        split_bytes=get("SPLIT_BYTES", _at_least_1, defaults.split_bytes),
        data_isolation=get("DATA_ISOLATION", _one_of("process", "thread"),
                           defaults.data_isolation),
        data_claim_after_s=get("DATA_CLAIM_AFTER_S", float, defaults.data_claim_after_s),
        claim_after_s=get("CLAIM_AFTER_S", float, defaults.claim_after_s),
        data_dir=get("DATA_DIR", str, defaults.data_dir),
        result_dir=get("RESULT_DIR", str, defaults.result_dir),
        cleanup=get("CLEANUP", _bool, defaults.cleanup),
        request_timeout_s=get("REQUEST_TIMEOUT_S", float, defaults.request_timeout_s),
        retention_s=get("RETENTION_S", float, defaults.retention_s),
        failed_retention_s=get("FAILED_RETENTION_S", float, defaults.failed_retention_s),
        trace_retention_s=get("TRACE_RETENTION_S", float, defaults.trace_retention_s),
        sweep_interval_s=get("SWEEP_INTERVAL_S", float, defaults.sweep_interval_s),
        stall_s=get("STALL_S", float, defaults.stall_s),
        metrics_port=get("METRICS_PORT", int, defaults.metrics_port),
        max_depth=get("MAX_DEPTH", int, defaults.max_depth),
        engine_error_attempts=get("ENGINE_ERROR_ATTEMPTS", _at_least_1,
                                  defaults.engine_error_attempts),
        front_end_name=get("FRONT_END_NAME", str, defaults.front_end_name),
        max_body_bytes=get("MAX_BODY_BYTES", int, defaults.max_body_bytes),
        body_timeout_s=get("BODY_TIMEOUT_S", float, defaults.body_timeout_s),
        blob_threshold_bytes=get("BLOB_THRESHOLD_BYTES", int, defaults.blob_threshold_bytes),
        msg_timeout_s=get("MSG_TIMEOUT_S", float, defaults.msg_timeout_s),
        etcd_timeout_s=get("ETCD_TIMEOUT_S", float, defaults.etcd_timeout_s),
        scope_factories=get("SCOPE_FACTORIES", _mapping, defaults.scope_factories),
        shared_fs_url=get("SHARED_FS_URL", str, defaults.shared_fs_url),
        notify_events=get("NOTIFY_EVENTS", _list, defaults.notify_events),
        notify_webhook_urls=get("NOTIFY_WEBHOOK_URLS", _list, defaults.notify_webhook_urls),
        smtp_host=get("SMTP_HOST", str, defaults.smtp_host),
        smtp_port=get("SMTP_PORT", int, defaults.smtp_port),
        smtp_user=get("SMTP_USER", str, defaults.smtp_user),
        smtp_password=get("SMTP_PASSWORD", str, defaults.smtp_password),
        smtp_tls=get("SMTP_TLS", _smtp_tls, defaults.smtp_tls),
        smtp_ca_file=get("SMTP_CA_FILE", str, defaults.smtp_ca_file),
        notify_email_from=get("NOTIFY_EMAIL_FROM", str, defaults.notify_email_from),
        notify_email_to=get("NOTIFY_EMAIL_TO", _list, defaults.notify_email_to),
        etcd_user=get("ETCD_USER", str, defaults.etcd_user),
        etcd_password=get("ETCD_PASSWORD", str, defaults.etcd_password),
        etcd_ca_cert=get("ETCD_CA_CERT", str, defaults.etcd_ca_cert),
        etcd_cert=get("ETCD_CERT", str, defaults.etcd_cert),
        etcd_key=get("ETCD_KEY", str, defaults.etcd_key),
        auth_tokens_file=get("AUTH_TOKENS_FILE", str, defaults.auth_tokens_file),
        auth_tokens=get("AUTH_TOKENS", _list, defaults.auth_tokens),
        nsqd_tls=get("NSQD_TLS", _bool, defaults.nsqd_tls),
        nsqd_tls_ca_cert=get("NSQD_TLS_CA_CERT", str, defaults.nsqd_tls_ca_cert),
        nsqd_tls_cert=get("NSQD_TLS_CERT", str, defaults.nsqd_tls_cert),
        nsqd_tls_key=get("NSQD_TLS_KEY", str, defaults.nsqd_tls_key),
    )
    _warn_unknown(env, read)
    return settings


def _warn_unknown(env, read: set[str]) -> None:
    """A misspelt or foreign MR_* variable (JobX's MR_ETCD_HOST) would be ignored without a
    word, and the process would talk to its defaults: say so, once, with the closest name."""
    known = read | OTHER_VARIABLES | HANDLER_ENVIRONMENT
    for name in sorted(env):
        if name.startswith("MR_") and name not in known and name not in _warned:
            _warned.add(name)
            close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
            log.warning("%s is not a setting of mr and is ignored%s", name,
                        f" (did you mean {close[0]}?)" if close else "")
