"""Handler-defined metrics: labelled series, one shape per name, a bound on label values."""
import pytest
from prometheus_client import REGISTRY

from mr.handler_metrics import MAX_SERIES, HandlerMetricError, HandlerMetrics


def test_counters_and_timers_are_labelled_with_workflow_handler_and_the_handlers_labels():
    metrics = HandlerMetrics().bound("wf1", "reader")
    metrics.counter("unit_rows_read", source="s3").inc(3)
    with metrics.timer("unit_fetch", source="s3"):
        pass
    labels = {"workflow": "wf1", "handler": "reader", "source": "s3"}
    assert REGISTRY.get_sample_value("mr_handler_unit_rows_read_total", labels) == 3
    assert REGISTRY.get_sample_value("mr_handler_unit_fetch_seconds_count", labels) == 1


def test_a_name_keeps_its_first_shape_and_label_values_are_bounded():
    metrics = HandlerMetrics().bound("wf1", "reader")
    metrics.counter("unit_bounded", kind="a").inc()
    with pytest.raises(HandlerMetricError, match="first used as a counter labelled"):
        metrics.counter("unit_bounded", other="a")
    with pytest.raises(HandlerMetricError, match="first used as a counter"):
        with metrics.timer("unit_bounded", kind="a"):
            pass
    for n in range(1, MAX_SERIES):
        metrics.counter("unit_bounded", kind=str(n)).inc()
    with pytest.raises(HandlerMetricError, match="not by ids"):
        metrics.counter("unit_bounded", kind="one too many")
    metrics.counter("unit_bounded", kind="7").inc()     # a known series still counts


def test_bad_names_say_what_a_name_may_be():
    metrics = HandlerMetrics().bound("wf1", "reader")
    with pytest.raises(HandlerMetricError, match="lower-case"):
        metrics.counter("Rows-Read")
    with pytest.raises(HandlerMetricError, match="not \\('workflow', 'handler'\\)"):
        metrics.counter("unit_ok", workflow="x")
