"""The workflow, job, step and handler scripts against the real etcd."""
from __future__ import annotations

import pytest

from mr.cli import kv_handler, kv_job, kv_step, kv_workflow
from mr.cluster import free_port
from mr.kv import entities
from mr.kv.models import Handler, Job, Step
from tests.support.cluster import REPO, unique

ALL_SCRIPTS = [kv_workflow.create, kv_workflow.get, kv_workflow.list_, kv_workflow.delete,
               kv_job.create, kv_job.get, kv_job.list_, kv_job.delete,
               kv_step.create, kv_step.get, kv_step.list_, kv_step.delete,
               kv_step.set_handler, kv_step.update_handlers,
               kv_handler.create, kv_handler.get, kv_handler.list_, kv_handler.delete]


@pytest.mark.parametrize("main", ALL_SCRIPTS, ids=lambda m: m.prog)
def test_help(cli, main):
    ran = cli(main, "--help")
    assert ran.code == 0
    assert ran.out.startswith(f"usage: {main.prog}")
    assert "--json" in ran.out


def test_workflow_lifecycle(cli, kv):
    name = unique("wf")
    assert cli(kv_workflow.create, name, "for testing").code == 0
    again = cli(kv_workflow.create, name)
    assert again.code == 2 and f"workflow '{name}' already exists" in again.err
    got = cli(kv_workflow.get, name, "--json")
    assert got.code == 0
    assert got.json()["description"] == "for testing"
    assert got.json()["contents"] == {"jobs": 0, "steps": 0, "handlers": 0, "requests": 0}
    listed = cli(kv_workflow.list_)
    assert any(line.split()[0] == name for line in listed.out.splitlines())
    assert cli(kv_workflow.delete, name).code == 0
    assert entities.get_workflow(kv, name) is None


def test_workflow_bad_name_and_unknown(cli):
    bad = cli(kv_workflow.create, "no/slashes")
    assert bad.code == 2 and "invalid workflow name" in bad.err
    for main in (kv_workflow.get, kv_workflow.delete):
        ran = cli(main, "no_such_wf")
        assert ran.code == 2
        assert ran.err.strip() == "error: workflow 'no_such_wf' does not exist"


def test_workflow_delete_refuses_unless_forced(cli, kv, example_wf):
    refused = cli(kv_workflow.delete, example_wf)
    assert refused.code == 2
    assert "3 jobs, 5 steps, 11 handlers" in refused.err and "--force" in refused.err
    assert entities.get_workflow(kv, example_wf) is not None
    forced = cli(kv_workflow.delete, example_wf, "--force", "--json")
    assert forced.code == 0 and forced.json()["contents"]["handlers"] == 11
    assert kv.count(f"/mr/w/{example_wf}/") == 0


def test_job_scripts(cli, kv, example_wf):
    created = cli(kv_job.create, example_wf, "sq2", "squares", "--result-writer", "file",
                  "--timeout", "30", "--description", "again")
    assert created.code == 0, created.err
    job = entities.get(kv, Job, example_wf, "sq2")
    assert (job.initial_step, job.result_writer, job.timeout_s) == ("squares", "file", 30.0)
    assert cli(kv_job.get, example_wf, "sq2", "--json").json()["result_writer"] == "file"
    listed = cli(kv_job.list_, example_wf, "--json").json()
    assert [j["name"] for j in listed] == ["sq2", "squares", "wordcount", "wordcount_files"]
    table = cli(kv_job.list_, example_wf).out.splitlines()
    assert table[0].split()[:2] == ["NAME", "INITIAL_STEP"]
    missing_step = cli(kv_job.create, example_wf, "bad", "no_step")
    assert missing_step.code == 2 and "initial step 'no_step' does not exist" in missing_step.err
    bad_writer = cli(kv_job.create, example_wf, "bad", "squares", "--result-writer", "s3")
    assert bad_writer.code == 2 and "invalid choice" in bad_writer.err
    duplicate = cli(kv_job.create, example_wf, "sq2", "squares")
    assert duplicate.code == 2 and "already exists" in duplicate.err
    unknown = cli(kv_job.get, example_wf, "nope")
    assert unknown.err.strip() == f"error: job 'nope' does not exist in workflow '{example_wf}'"
    assert cli(kv_job.get, "no_such_wf", "x").err.strip() == \
        "error: workflow 'no_such_wf' does not exist"
    assert cli(kv_job.delete, example_wf, "sq2").code == 0
    assert entities.get(kv, Job, example_wf, "sq2") is None


def test_step_create_checks_handlers(cli, kv, example_wf):
    ok = cli(kv_step.create, example_wf, "sq_comb", "numbers_square", "wordcount_sum_combiner",
             "numbers_total")
    assert ok.code == 0, ok.err
    assert entities.get(kv, Step, example_wf, "sq_comb").combiner == "wordcount_sum_combiner"
    no_comb = cli(kv_step.create, example_wf, "sq_plain", "numbers_square", "", "numbers_total")
    assert no_comb.code == 0 and entities.get(kv, Step, example_wf, "sq_plain").combiner is None
    wrong = cli(kv_step.create, example_wf, "bad", "numbers_total", "", "numbers_total")
    assert wrong.code == 2 and "'numbers_total' is a reducer, not a mapper" in wrong.err
    missing = cli(kv_step.create, example_wf, "bad", "ghost", "", "numbers_total")
    assert missing.code == 2 and "mapper 'ghost' does not exist" in missing.err
    too_few = cli(kv_step.create, example_wf, "bad", "numbers_square", "numbers_total")
    assert too_few.code == 2 and "required: reducer" in too_few.err
    listed = cli(kv_step.list_, example_wf, "--json").json()
    assert {s["name"] for s in listed} >= {"sq_comb", "sq_plain", "square", "squares"}


def test_a_map_only_step_needs_a_data_mapper_and_no_shuffle(cli, kv, example_wf):
    made = cli(kv_step.create, example_wf, "extract", "wordcount_count_file", "", "")
    assert made.code == 0, made.err
    assert entities.get(kv, Step, example_wf, "extract").reducer is None
    small = cli(kv_step.create, example_wf, "bad", "numbers_square", "", "")
    assert small.code == 2
    assert "step 'bad' needs a reducer: only a step whose mapper reads input files" in small.err
    for extra, named in ((["--partitions", "2"], "partitions"),
                         (["--partitioner", "m:f"], "a partitioner")):
        shuffled = cli(kv_step.create, example_wf, "bad", "wordcount_count_file", "", "", *extra)
        assert shuffled.code == 2 and f"so it cannot have {named}" in shuffled.err
    combined = cli(kv_step.create, example_wf, "bad", "wordcount_count_file",
                   "wordcount_sum_combiner", "")
    assert combined.code == 2 and "so it cannot have a combiner" in combined.err
    assert entities.get(kv, Step, example_wf, "bad") is None
    dropped = cli(kv_step.set_handler, example_wf, "square", "-r", "")
    assert dropped.code == 2 and "step 'square' needs a reducer" in dropped.err
    assert entities.get(kv, Step, example_wf, "square").reducer == "numbers_total"
    back = cli(kv_step.set_handler, example_wf, "extract", "-r", "wordcount_sum_reducer")
    assert back.code == 0 and "extract: reducer - -> wordcount_sum_reducer" in back.out


def test_step_delete_names_referring_jobs(cli, kv, example_wf):
    refused = cli(kv_step.delete, example_wf, "squares")
    assert refused.code == 2
    assert "step 'squares' is used by job squares; use --force" in refused.err
    assert entities.get(kv, Step, example_wf, "squares") is not None
    forced = cli(kv_step.delete, example_wf, "squares", "--force")
    assert forced.code == 0 and "still referred to by job squares" in forced.out
    assert entities.get(kv, Step, example_wf, "squares") is None


def test_step_set_handler(cli, kv, example_wf):
    ran = cli(kv_step.set_handler, example_wf, "square", "-c", "wordcount_sum_combiner")
    assert ran.code == 0, ran.err
    assert "square: combiner - -> wordcount_sum_combiner" in ran.out
    assert entities.get(kv, Step, example_wf, "square").combiner == "wordcount_sum_combiner"
    removed = cli(kv_step.set_handler, example_wf, "square", "-c", "", "--json")
    assert removed.json()["changes"] == {"combiner": ["wordcount_sum_combiner", None]}
    wrong = cli(kv_step.set_handler, example_wf, "square", "-r", "numbers_square")
    assert wrong.code == 2 and "is a mapper, not a reducer" in wrong.err
    assert entities.get(kv, Step, example_wf, "square").reducer == "numbers_total"
    nothing = cli(kv_step.set_handler, example_wf, "square")
    assert nothing.code == 2 and "at least one of" in nothing.err
    unknown = cli(kv_step.set_handler, example_wf, "nope", "-m", "numbers_square")
    assert unknown.code == 2 and "step 'nope' does not exist" in unknown.err


def test_step_update_handlers(cli, kv, example_wf):
    sim = cli(kv_step.update_handlers, example_wf, "reducer", "wordcount_sum_reducer",
              "numbers_total", "--simulate-only")
    assert sim.code == 0
    assert "would update step count: reducer" in sim.out and "would update 3 step(s)" in sim.out
    assert entities.get(kv, Step, example_wf, "count").reducer == "wordcount_sum_reducer"
    done = cli(kv_step.update_handlers, example_wf, "reducer", "wordcount_sum_reducer",
               "numbers_total", "--json")
    assert sorted(done.json()["steps"]) == ["count", "count_files", "split"]
    assert entities.get(kv, Step, example_wf, "split").reducer == "numbers_total"
    wrong_type = cli(kv_step.update_handlers, example_wf, "reducer", "numbers_total",
                     "numbers_square")
    assert wrong_type.code == 2 and "'numbers_square' is a mapper, not a reducer" in wrong_type.err
    missing = cli(kv_step.update_handlers, example_wf, "mapper", "numbers_square", "ghost")
    assert missing.code == 2 and "handler 'ghost' does not exist" in missing.err


def test_handler_scripts(cli, kv, example_wf, tmp_path):
    source = REPO / "handlers" / "numbers" / "square.py"
    created = cli(kv_handler.create, example_wf, str(source))
    assert created.code == 0, created.err
    assert "created mapper square" in created.out
    handler = entities.get(kv, Handler, example_wf, "square")
    assert handler.source == source.read_text() and handler.handler_type == "mapper"
    named = cli(kv_handler.create, example_wf, str(source), "--name", "square2", "--json")
    assert named.json()["name"] == "square2" and "source" not in named.json()
    duplicate = cli(kv_handler.create, example_wf, str(source))
    assert duplicate.code == 2 and "handler 'square' already exists" in duplicate.err
    assert cli(kv_handler.create, example_wf, str(source), "--replace").code == 0
    got = cli(kv_handler.get, example_wf, "square", "--source", "--json").json()
    assert got["source"] == source.read_text()
    assert "source" not in cli(kv_handler.get, example_wf, "square", "--json").json()
    names = [h["name"] for h in cli(kv_handler.list_, example_wf, "--json").json()]
    assert names == sorted(names) and {"square", "square2", "numbers_total"} <= set(names)
    broken = tmp_path / "broken.py"
    broken.write_text('"""No metadata."""\ndef handle(ctx, arguments):\n    pass\n')
    bad = cli(kv_handler.create, example_wf, str(broken))
    assert bad.code == 2 and str(broken) in bad.err
    assert entities.get(kv, Handler, example_wf, "broken") is None
    missing = cli(kv_handler.create, example_wf, str(tmp_path / "nope.py"))
    assert missing.code == 2 and "no such file" in missing.err
    wrong_wf = cli(kv_handler.create, "no_such_wf", str(source))
    assert wrong_wf.err.strip() == "error: workflow 'no_such_wf' does not exist"


def test_handler_delete_names_referring_steps(cli, kv, example_wf):
    refused = cli(kv_handler.delete, example_wf, "numbers_total")
    assert refused.code == 2
    assert "handler 'numbers_total' is used by step square, step squares" in refused.err
    assert entities.get(kv, Handler, example_wf, "numbers_total") is not None
    assert cli(kv_handler.delete, example_wf, "numbers_total", "--force").code == 0
    assert entities.get(kv, Handler, example_wf, "numbers_total") is None
    unknown = cli(kv_handler.delete, example_wf, "numbers_total")
    assert unknown.code == 2 and "handler 'numbers_total' does not exist" in unknown.err


def test_entry_points_as_processes(run_script, kv):
    name = unique("proc")
    created = run_script("mr_kv_workflow_create", name, "made by a process")
    assert created.code == 0, created.err
    listed = run_script("mr_kv_workflow_get", name, "--json")
    assert listed.code == 0 and '"description": "made by a process"' in listed.out
    unknown = run_script("mr_kv_step_get", name, "ghost")
    assert unknown.code == 2
    assert unknown.err.strip() == f"error: step 'ghost' does not exist in workflow '{name}'"
    assert "Traceback" not in unknown.err
    helped = run_script("mr_kv_step_create", "--help")
    assert helped.code == 0 and "combiner" in helped.out


def test_etcd_down_is_exit_3(monkeypatch, capsys):
    monkeypatch.setenv("MR_ETCD_HOSTS", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("MR_ETCD_TIMEOUT_S", "0.3")
    assert kv_workflow.list_([]) == 3
    assert "did not answer" in capsys.readouterr().err
