"""The watch-following thread's stop, against a real etcd: it ends the thread whether the
watch is open or not yet opened, so no stream is left for the collector at exit."""
import threading
import uuid
from functools import partial

from mr.cluster import wait_for
from mr.kv.watch import Follower


def test_stop_cancels_the_open_watch_and_ends_the_thread(kv):
    prefix = f"/test/{uuid.uuid4().hex}/"
    seen, opened = [], threading.Event()

    def follow():
        watch = follower.open(partial(kv.watch_prefix, prefix, kv.revision() + 1))
        opened.set()
        for _revision, events in watch:
            seen.extend(event.entry.key for event in events)

    follower = Follower("test-follower", follow)
    follower.start()
    assert opened.wait(10)
    kv.put(prefix + "a", b"1")
    wait_for(lambda: seen == [prefix + "a"], timeout=10, message="the watch saw the put")
    follower.stop(timeout=10)
    assert follower.stopped.is_set()
    assert not any(t.name == "test-follower" for t in threading.enumerate())


def test_a_stop_before_the_watch_opens_is_not_missed(kv):
    release, results = threading.Event(), []

    def follow():
        release.wait(10)
        results.append(follower.open(partial(kv.watch_prefix, "/test/", kv.revision() + 1)))

    follower = Follower("test-follower-late", follow)
    follower.start()
    stopping = threading.Thread(target=follower.stop, kwargs={"timeout": 10})
    stopping.start()
    wait_for(follower.stopped.is_set, timeout=10, message="stop() began")
    release.set()
    stopping.join(10)
    assert results == [None] and not stopping.is_alive()
    assert not any(t.name == "test-follower-late" for t in threading.enumerate())


def test_stop_of_a_follower_never_started_returns():
    follower = Follower("never", lambda: None)
    follower.stop(timeout=1)
    assert follower.stopped.is_set()
