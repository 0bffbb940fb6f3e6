"""mr_submit finds the front-end from the cluster's own settings."""
from __future__ import annotations

import pytest

from mr.cli import submit_many


@pytest.mark.parametrize("env, url", [
    ({}, "http://127.0.0.1:8080"),
    ({"MR_HTTP_BIND": "127.0.0.1:9191"}, "http://127.0.0.1:9191"),
    ({"MR_HTTP_BIND": "0.0.0.0:9191"}, "http://127.0.0.1:9191"),
    ({"MR_HTTP_BIND": "unix:/run/mr/gunicorn.sock"}, "http://127.0.0.1:8080"),
    ({"MR_HTTP_BIND": "127.0.0.1:9191", "MR_URL": "http://front:80"}, "http://front:80"),
])
def test_the_default_url(monkeypatch, env, url):
    for name in ("MR_HTTP_BIND", "MR_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert submit_many.parse_args(["wf", "job"]).url == url
