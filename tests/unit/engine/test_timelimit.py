"""The watchdog expires limits at their deadlines, once, and never a finished run's."""
import threading

import pytest

from mr.cluster import wait_for
from mr.engine.timelimit import TimeLimitExceeded, Watchdog


def test_expiry_runs_callbacks_and_check_raises():
    watchdog, fired = Watchdog(), []
    limit = watchdog.limit(0.05, lambda: TimeLimitExceeded("late"), lambda: fired.append(1))
    limit.on_expire(lambda: fired.append(2))
    wait_for(limit.expired.is_set, timeout=5)
    assert sorted(fired) == [1, 2]
    with pytest.raises(TimeLimitExceeded, match="late"):
        limit.check()
    limit.on_expire(lambda: fired.append(3))  # registered after expiry: runs at once
    assert fired[-1] == 3 and limit.remaining() == 0.0


def test_done_before_the_deadline_never_expires():
    watchdog, fired = Watchdog(), threading.Event()
    early = watchdog.limit(0.2, lambda: TimeLimitExceeded("x"), fired.set)
    watchdog.done(early)
    later = watchdog.limit(0.3, lambda: TimeLimitExceeded("y"))
    wait_for(later.expired.is_set, timeout=5)  # the watchdog went past the early deadline
    assert not fired.is_set() and not early.expired.is_set()
    early.check()


def test_no_limit():
    limit = Watchdog().limit(None, lambda: TimeLimitExceeded("never"))
    assert limit.remaining() is None
    limit.check()
