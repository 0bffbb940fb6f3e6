"""The `engine` fixture: a whole cluster of real processes per test module."""
import pytest

from mr import examples
from mr.kv import entities
from mr.kv.models import Job, Step, Workflow
from tests.support.cluster import REPO, start_cluster, unique

CASES_DIR = REPO / "tests" / "handlers"


def define_case_steps(kv, wf: str) -> None:
    for step in [Step(wf, "nest_root", "nest_root", "sum_values"),
                 Step(wf, "middle", "nest_middle", "sum_values"),
                 Step(wf, "leaf", "nest_leaf", "sum_values"),
                 Step(wf, "letters", "letters", "sum_values", combiner="marking_combiner"),
                 Step(wf, "zero", "zero_children", "count_results"),
                 Step(wf, "empty", "letters", "drop_all"),
                 Step(wf, "explode", "explode", "sum_values"),
                 Step(wf, "versioned", "versioned", "first_value")]:
        entities.save(kv, step)
    for name, step, writer in [("nested", "nest_root", "inline"), ("letters", "letters", "inline"),
                               ("zero", "zero", "inline"), ("empty", "empty", "inline"),
                               ("explode", "explode", "inline"),
                               ("versioned", "versioned", "inline"),
                               ("letters_file", "letters", "file")]:
        entities.save(kv, Job(wf, name, step, result_writer=writer))


@pytest.fixture(scope="module")
def engine(etcd, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("engine")
    ex_wf, cases_wf = unique("ex"), unique("cases")
    engine = start_cluster(tmp, etcd.address, [ex_wf, cases_wf])
    kv = engine.kv
    entities.create_workflow(kv, Workflow(ex_wf, "examples"))
    entities.create_workflow(kv, Workflow(cases_wf, "end-to-end cases"))
    for wf, directory in ((ex_wf, REPO / "handlers"), (cases_wf, CASES_DIR)):
        synced = engine.sync(wf, directory)
        assert synced.returncode == 0, synced.stderr
        assert "added" in synced.stdout
    for definition in examples.steps(ex_wf) + examples.jobs(ex_wf):
        entities.save(kv, definition)
    define_case_steps(kv, cases_wf)
    engine.start_workers(2)
    engine.start_web()
    engine.ex, engine.cases = ex_wf, cases_wf
    yield engine
    engine.stop()
