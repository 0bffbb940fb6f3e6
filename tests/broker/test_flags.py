"""Every nsqd 1.3.0 and nsqlookupd 1.3.0 flag is handled: implemented, accepted as nsqd accepts
it (deprecated, no effect), or refused with a message that says what to use instead.

The flag lists are nsqd's own (apps/nsqd/options.go and apps/nsqlookupd/main.go at v1.3.0),
each with a value nsqd would accept, so a command line written for nsqd starts mr_broker or
fails with an answer — never with "unrecognized arguments".
"""
from __future__ import annotations

import subprocess
import sys

import pytest

from mr.broker import options as broker_options
from mr.lookupd import options as lookupd_options
from tests.support import tls
from tests.support.broker import start_broker

# nsqd 1.3.0's flags and a value each; None: a boolean flag given bare, as `--verbose`.
NSQD_FLAGS = {
    "version": None, "config": "nsqd.cfg", "log-level": "warn", "log-prefix": "[x] ",
    "verbose": None, "node-id": "7", "worker-id": None, "https-address": "0.0.0.0:4152",
    "http-address": "127.0.0.1:0", "tcp-address": "127.0.0.1:0",
    "auth-http-address": "127.0.0.1:4181", "broadcast-address": "h",
    "broadcast-tcp-port": "4150", "broadcast-http-port": "4151",
    "lookupd-tcp-address": "127.0.0.1:4160", "http-client-connect-timeout": "2s",
    "http-client-request-timeout": "5s", "data-path": "", "mem-queue-size": "100",
    "max-bytes-per-file": "1048576", "sync-every": "10", "sync-timeout": "1s",
    "queue-scan-worker-pool-max": "4", "queue-scan-selection-count": "20",
    "msg-timeout": "30s", "max-msg-timeout": "10m", "max-msg-size": "2048",
    "max-req-timeout": "1h", "max-body-size": "4096", "max-heartbeat-interval": "30s",
    "max-rdy-count": "100", "max-output-buffer-size": "65536",
    "max-output-buffer-timeout": "30s", "min-output-buffer-timeout": "25ms",
    "output-buffer-timeout": "250ms", "max-channel-consumers": "3",
    "statsd-address": "127.0.0.1:8125", "statsd-interval": "60s", "statsd-mem-stats": None,
    "statsd-prefix": "nsq.%s", "statsd-udp-packet-size": "508",
    "statsd-exclude-ephemeral": None, "e2e-processing-latency-percentile": "0.99",
    "e2e-processing-latency-window-time": "10m", "tls-cert": "<cert>", "tls-key": "<key>",
    "tls-client-auth-policy": "require-verify", "tls-root-ca-file": "<ca>",
    "tls-required": "true", "tls-min-version": "tls1.2", "deflate": None,
    "max-deflate-level": "9", "snappy": None,
}
NSQLOOKUPD_FLAGS = {
    "config": "nsqlookupd.cfg", "version": None, "log-level": "warn", "log-prefix": "[x] ",
    "verbose": None, "tcp-address": "127.0.0.1:0", "http-address": "127.0.0.1:0",
    "broadcast-address": "h", "inactive-producer-timeout": "5m", "tombstone-lifetime": "45s",
}


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return tls.make_certificates(tmp_path_factory.mktemp("certs"))


def _argv(flags: dict[str, str | None], name: str, certs) -> list[str]:
    value = flags[name]
    if name.startswith("tls-"):  # nsqd's TLS flags only make sense together
        return ["--tls-cert", str(certs.server.cert), "--tls-key", str(certs.server.key),
                "--tls-root-ca-file", str(certs.ca),
                *([f"--{name}={value}"] if not value.startswith("<") else [])]
    return [f"--{name}"] if value is None else [f"--{name}={value}"]


def _outcome(parse, argv: list[str], capsys) -> tuple[int, str]:
    try:
        parse(argv)
    except SystemExit as exit_:
        return exit_.code, capsys.readouterr().err
    return 0, ""


@pytest.mark.parametrize("name", sorted(NSQD_FLAGS))
def test_every_nsqd_flag_is_handled(name, certs, capsys):
    code, err = _outcome(broker_options.parse_args, _argv(NSQD_FLAGS, name, certs), capsys)
    if name in broker_options.REFUSED_NSQD_FLAGS:
        assert code == 2 and "is not supported by mr_broker" in err and "instead" in err, err
    else:
        assert code == 0, err


@pytest.mark.parametrize("name", sorted(NSQLOOKUPD_FLAGS))
def test_every_nsqlookupd_flag_is_handled(name, capsys):
    code, err = _outcome(lookupd_options.parse_args, _argv(NSQLOOKUPD_FLAGS, name, None), capsys)
    if name == "config":
        assert code == 2 and "instead" in err, err
    else:
        assert code == 0, err


def test_help_lists_every_nsqd_flag():
    run = subprocess.run([sys.executable, "-m", "mr.broker", "--help"], capture_output=True,
                         text=True, timeout=30)
    assert run.returncode == 0
    missing = [name for name in NSQD_FLAGS if f"--{name}" not in run.stdout]
    assert not missing, missing


def test_go_booleans():
    parse = broker_options.parse_args
    assert parse([])[0].snappy and parse([])[0].deflate  # nsqd's defaults: both on
    assert not parse(["--snappy=false", "-deflate=0"])[0].snappy
    assert not parse(["--deflate=f"])[0].deflate
    assert parse(["--snappy", "--deflate=true"])[0].deflate


def test_broker_starts_with_a_pynsq_test_command_line(tmp_path):
    """pynsq's integration tests run `nsqd --verbose ...`: mr_broker must start on it."""
    broker = start_broker(tmp_path, "--verbose", "--worker-id", "-queue-scan-worker-pool-max=2")
    assert broker.ping()
    assert broker.stop() == 0
