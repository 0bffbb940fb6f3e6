"""Fixtures: one shared mr_broker for tests that isolate themselves by topic name."""
import itertools
import os

import pytest

from tests.support.broker import start_broker

_names = itertools.count()


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    server = start_broker(tmp_path_factory.mktemp("broker"))
    yield server
    server.stop()


@pytest.fixture
def topic():
    """A topic name no other test uses."""
    return f"t{os.getpid()}_{next(_names)}"


@pytest.fixture(scope="module")
def small_broker(tmp_path_factory):
    """A broker with tiny size limits, for the oversize-input error paths."""
    server = start_broker(tmp_path_factory.mktemp("small"), "--max-msg-size", "1024",
                          "--max-body-size", "4096")
    yield server
    server.stop()
