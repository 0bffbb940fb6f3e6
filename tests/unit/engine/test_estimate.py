"""The ETA: expected duration first, the observed rate as work completes, blended between."""
from mr.engine.progress import estimate


def test_without_an_expected_duration_the_eta_waits_for_a_first_result():
    assert estimate(elapsed=3.0, done=0, total=10, expected=None) is None
    assert estimate(elapsed=3.0, done=3, total=10, expected=None) == 7.0


def test_an_expected_duration_gives_an_eta_from_the_first_second():
    assert estimate(elapsed=1.0, done=0, total=10, expected=30.0) == 29.0
    assert estimate(elapsed=40.0, done=0, total=10, expected=30.0) == 0.0   # late: not negative


def test_the_observed_rate_takes_over_as_work_completes():
    # half done after 10 s: observed says 10 s more, the plan 20 s more; halfway between
    assert estimate(elapsed=10.0, done=5, total=10, expected=30.0) == 15.0
    assert estimate(elapsed=10.0, done=9, total=10, expected=30.0) == 0.9 * 10 / 9 + 0.1 * 20
