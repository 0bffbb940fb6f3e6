"""Settings from MR_* variables: the data-plane choices, and a bad value named with its fix."""
from __future__ import annotations

import pytest

from mr import config


def test_data_jobs_run_in_a_fresh_process_unless_told_otherwise():
    assert config.load({}).data_isolation == "process"
    assert config.load({"MR_DATA_ISOLATION": " Thread "}).data_isolation == "thread"


def test_an_unknown_isolation_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="MR_DATA_ISOLATION='fork' is not valid: use one of "
                                         "process, thread"):
        config.load({"MR_DATA_ISOLATION": "fork"})


def test_an_unknown_variable_is_reported_once_with_the_closest_name(caplog):
    with caplog.at_level("WARNING", logger="mr.config"):
        config.load({"MR_ETCD_HOST": "10.0.0.1:2379", "MR_NOTHING_LIKE_IT": "1"})
        config.load({"MR_ETCD_HOST": "10.0.0.1:2379"})
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "MR_ETCD_HOST is not a setting of mr and is ignored (did you mean MR_ETCD_HOSTS?)",
        "MR_NOTHING_LIKE_IT is not a setting of mr and is ignored"]
