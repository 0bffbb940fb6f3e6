"""What counts as a broker's new life (the sweeper republishes from etcd when it sees one)."""
from mr.queue.restarts import BrokerRestarts, Life


def test_the_same_run_seen_again_is_not_a_restart():
    before = Life(100, {"a": 5, "b": 7})
    assert before.followed_by(Life(100, {"a": 5, "b": 9}))


def test_a_new_start_time_or_a_count_gone_down_is_a_restart():
    before = Life(100, {"a": 5})
    assert not before.followed_by(Life(101, {"a": 50}))
    assert not before.followed_by(Life(100, {"a": 2}))    # restarted within the same second
    assert not before.followed_by(Life(100, {"b": 9}))    # its topics not yet made again


class Scripted(BrokerRestarts):
    """BrokerRestarts whose looks at one broker come from a list (None: it did not answer)."""
    def __init__(self, looks):
        super().__init__(["broker:4151"], [])
        self.looks = iter(looks)

    def _life(self, address):
        return next(self.looks)


def test_down_then_up_is_a_restart_and_the_first_look_never_is():
    restarts = Scripted([Life(1, {"a": 3}), Life(1, {"a": 4}), None, Life(1, {"a": 9})])
    assert [restarts.check() for _ in range(4)] == [[], [], [], ["broker:4151"]]
