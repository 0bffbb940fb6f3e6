"""How a child subtree's counts place it in the progress summary."""
import pytest

from mr.engine.buckets import _bucket


@pytest.mark.parametrize("created, started, done, failed, bucket", [
    (5, 0, 0, 0, "not started"),
    (8, 3, 2, 0, "1-25%"),       # 25 % done
    (8, 5, 3, 0, "26-75%"),
    (8, 8, 7, 0, "76-99%"),
    (8, 8, 8, 0, "done"),
    (8, 8, 6, 1, "failed"),      # a failure below outweighs how much is done
])
def test_each_child_lands_in_one_bucket(created, started, done, failed, bucket):
    assert _bucket(created, started, done, failed) == bucket
