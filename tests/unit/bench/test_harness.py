"""The comparison harness's own logic: workloads, answer checks, agreement, table, ratios and
goals (benchmarks/). No peer system is needed."""
import importlib.util
import subprocess
import sys
import time
from functools import partial

import pytest

from benchmarks import measure, report, runner, workloads
from benchmarks.workloads import Workload
from mr import examples
from mr.handlers import sync
from tests.support.cluster import REPO


def row(workload, system, **values):
    kind = workload.split()[0]
    parts = int(workload.split()[1]) if kind in ("fanout", "nested") else 200
    return {"workload": workload, "kind": kind, "parts": parts, "system": system, "runs": 3,
            "answer": "same", **values}


ROWS = [
    row("fanout 1000", "mr", parts_per_s=1500.0, p50_ms=660.0, p99_ms=700.0,
        etcd_writes_per_invocation=0.25, nsq_messages_per_invocation=1.0,
        worker_peak_rss_mib=60.0),
    row("fanout 1000", "celery", parts_per_s=300.0, p50_ms=3300.0, p99_ms=3400.0),
    row("fanout 1000", "dask", parts_per_s=600.0, p50_ms=1600.0, p99_ms=1700.0),
    row("fanout 10000", "mr", parts_per_s=1200.0, p50_ms=8300.0, p99_ms=8400.0,
        etcd_writes_per_invocation=0.2, nsq_messages_per_invocation=1.0,
        worker_peak_rss_mib=90.0),
    row("fanout 10000", "celery", error="TimeoutError: chord took too long"),
    row("latency 1 part", "mr", kind="latency", p50_ms=10.0, p99_ms=20.0,
        etcd_writes_per_invocation=3.0),
    row("latency 1 part", "celery", kind="latency", p50_ms=2.5, p99_ms=40.0),
]


def test_workload_plan_labels_and_invocations():
    plan = workloads.plan([1000, 10000], ["fanout", "nested", "latency", "wordcount"])
    assert [w.label for w in plan] == ["fanout 1000", "fanout 10000", "nested 1000",
                                       "nested 10000", "latency 1 part", "wordcount 200 chunks"]
    plan = workloads.plan([1000], ["latency", "load"], series=2, clients=16)
    assert [w.label for w in plan] == ["latency 1 part #1", "latency 16 clients #1",
                                       "latency 1 part #2", "latency 16 clients #2"]
    assert Workload("load", 1, 16).invocations() == 1
    assert Workload("fanout", 1000).invocations() == 1002
    assert Workload("nested", 1000).invocations() == 1000 + 2 * workloads.MIDS + 2


def test_expected_answers_match_a_direct_computation():
    assert workloads.sum_of_squares(1000) == sum(i * i for i in range(1000))
    assert workloads.sum_of_squares(1) == 0
    ranges = workloads.mid_ranges(1005)
    assert len(ranges) == workloads.MIDS and ranges[0][0] == 0 and ranges[-1][1] == 1005
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))


def test_corpus_chunks_cover_every_line_and_count_like_the_engine():
    chunks = workloads.chunks()
    assert len(chunks) == workloads.WORD_CHUNKS and all(chunks)
    text = examples.corpus()
    assert "\n".join(chunks) == "\n".join(text.splitlines())
    assert workloads.expected_words(chunks) == examples.count_locally(text)
    merged = workloads.merge_counts([workloads.count_chunk(c) for c in chunks])
    assert merged == workloads.expected_words(chunks)


def test_bench_handlers_parse_and_compute_what_the_peers_compute():
    handlers = {h.name: h for h in sync.read_directory("bench", REPO / "benchmarks" / "handlers")}
    assert set(handlers) == {"bench_nest_root", "bench_nest_mid", "bench_one_square",
                             "bench_word_chunks", "bigdata_count_words",
                             "bigdata_index_records", "bigdata_merge_ids"}

    def module(name):
        spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / "handlers"
                                                      / "bench" / f"{name}.py")
        loaded = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(loaded)
        return loaded
    mids = list(module("nest_root").handle(None, {"n": 1005, "mids": workloads.MIDS}))[1:]
    assert [tuple(v) for _k, v in mids] == workloads.mid_ranges(1005)
    leaves = list(module("nest_mid").handle(None, [[0, [10, 13]]]))[1:]
    assert leaves == [(10, 10), (11, 11), (12, 12)]
    assert list(module("one_square").handle(None, {"n": 7}))[1:] == [("sum", 49)]


def test_check_refuses_a_wrong_answer():
    workload = Workload("fanout", 10)
    runner.check(workload, 285, runner.expected(workload, []))
    with pytest.raises(runner.WrongAnswer, match="fanout 10: wrong answer 284"):
        runner.check(workload, 284, 285)


def test_digest_is_equal_for_equal_answers_in_any_order():
    assert runner.digest({"a": 1, "b": 2}) == runner.digest({"b": 2, "a": 1})
    assert runner.digest({"a": 1}) != runner.digest({"a": 2})


def test_disagreement_between_systems_is_reported():
    assert report.disagreements(ROWS) == []
    odd = ROWS + [row("wordcount 200 chunks", "mr", answer="x"),
                  row("wordcount 200 chunks", "dask", answer="y")]
    assert report.disagreements(odd) == ["wordcount 200 chunks: answers differ: mr=x, dask=y"]


def test_percentile_is_nearest_rank():
    values = list(range(1, 201))
    assert measure.percentile(values, 0.5) == 100 and measure.percentile(values, 0.99) == 198
    assert measure.percentile([5.0], 0.99) == 5.0


def test_clients_released_together_are_timed_from_the_release_to_the_last_end():
    events = []

    def client(number, release):
        events.append(("ready", number))
        release.wait()
        busy_until = time.perf_counter() + 0.05 * number   # the last one runs longest
        while time.perf_counter() < busy_until:
            pass
        events.append(("done", number))

    wall = measure.released_together([partial(client, n) for n in range(3)])
    assert sorted(events[:3]) == [("ready", 0), ("ready", 1), ("ready", 2)]
    assert sorted(events[3:]) == [("done", 0), ("done", 1), ("done", 2)]
    assert wall >= 0.1


def test_table_has_a_line_per_row_with_errors_shown():
    lines = report.table(ROWS).splitlines()
    assert lines[0].split()[:4] == ["workload", "system", "runs", "parts/s"]
    assert len(lines) == len(ROWS) + 1
    assert lines[1].split()[:5] == ["fanout", "1000", "mr", "3", "1,500"]
    assert "0.25" in lines[1] and "60.0" in lines[1]
    assert lines[2].split()[:5] == ["fanout", "1000", "celery", "3", "300"]
    assert "ERROR TimeoutError: chord took too long" in lines[5]


def test_ratios_say_how_far_ahead_mr_is():
    found = {(r["workload"], r["peer"], r["metric"]): r["ratio"] for r in report.ratios(ROWS)}
    assert found[("fanout 1000", "celery", "parts/s")] == 5.0
    assert found[("fanout 1000", "dask", "parts/s")] == 2.5
    assert found[("latency 1 part", "celery", "p50 latency")] == 0.25
    assert found[("latency 1 part", "celery", "p99 latency")] == 2.0
    assert ("fanout 10000", "celery", "parts/s") not in found  # that run failed
    assert "5.00x" in report.ratio_table(report.ratios(ROWS))


def test_goals_are_judged_from_the_same_run():
    judged = {g["goal"].split(" (")[0]: (g["measured"], g["met"]) for g in report.goals(ROWS)}
    assert judged["fanout 1000: parts/s >= 2x celery"] == ("5.00x", True)
    assert judged["latency 1 part: p50 <= celery's"] == ("0.25x", False)
    assert judged["latency 1 part: p99 <= celery's"] == ("2.00x", True)
    assert judged["fanout: rate at 10000 >= 90% of rate at 1000"] == ("80.00%", False)
    assert judged["fanout: worker peak RSS at 10000 <= 1.25x that at 1000"] == ("1.50x", False)
    assert judged["etcd writes per invocation <= 2"] == ("0.25", True)
    text = report.goal_table(report.goals(ROWS))
    assert "NOT met" in text and "met " in text


BURNS_IN_A_CHILD = """
import os, sys, time
sys.stdin.readline()
pid = os.fork()
if pid == 0:
    end = time.process_time() + 0.3
    while time.process_time() < end:
        pass
    os._exit(0)
os.waitpid(pid, 0)
print("done", flush=True)
sys.stdin.readline()
"""


def test_cpu_by_process_counts_a_descendant_that_ended_through_its_parent():
    proc = subprocess.Popen([sys.executable, "-c", BURNS_IN_A_CHILD], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        before = measure.cpu_by_process({"parent": proc.pid})
        proc.stdin.write("go\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == "done\n"
        spent = measure.cpu_by_process({"parent": proc.pid})["parent"] - before["parent"]
        assert spent >= 0.29   # the child's 0.3 s of CPU, though it is gone
    finally:
        proc.kill()
        proc.wait()
