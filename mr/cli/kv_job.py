"""mr_kv_job_{create,get,list,delete}: the nouns clients POST to."""
from __future__ import annotations

import argparse

from mr.cli.kv_definitions import delete_script, get_script, list_script
from mr.cli.output import Output, add_workflow, plain, script
from mr.kv import entities
from mr.kv.models import RESULT_WRITERS, Job, ResultWriter
from mr.kv.store import Store


def _create_args(parser: argparse.ArgumentParser) -> None:
    add_workflow(parser)
    parser.add_argument("name", help="job name (POST /job/<workflow>/<name>)")
    parser.add_argument("initial_step", help="the step the root invocation runs (must exist)")
    parser.add_argument("--description", default="")
    parser.add_argument("--result-writer", choices=RESULT_WRITERS, default=ResultWriter.INLINE,
                        help="inline: result in the response; file: written under "
                             "MR_RESULT_DIR (default: inline)")
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="request timeout for this job (default: MR_REQUEST_TIMEOUT_S)")
    parser.add_argument("--input", action="append", dest="inputs", metavar="PATH",
                        help="a data job's input: a file, directory or glob in the workflow's "
                             "shared filesystem, any fsspec URL, or result:NAME (a done data "
                             "request's result, by its name or id; repeatable; a request's "
                             "\"inputs\" replace these)")
    parser.add_argument("--split-mb", type=float, metavar="MB",
                        help="a data job's split size in MiB (default MR_SPLIT_BYTES, 32 MiB)")


def _create(kv: Store, args: argparse.Namespace) -> Output:
    if args.timeout is not None and args.timeout <= 0:
        raise ValueError("--timeout must be a positive number of seconds")
    if args.split_mb is not None and args.split_mb <= 0:
        raise ValueError("--split-mb must be a positive number of MiB")
    job = Job(args.workflow, args.name, args.initial_step, args.description,
              result_writer=args.result_writer, timeout_s=args.timeout, inputs=args.inputs,
              split_bytes=int(args.split_mb * 1024 * 1024) if args.split_mb else None)
    entities.save(kv, job, create_only=True)
    return Output(plain(job), f"created job {job.name} (initial step {job.initial_step}) in "
                              f"workflow {job.workflow}")


create = script("mr_kv_job_create", "Create a job; its initial step must exist.",
                _create_args, _create)
get = get_script(Job)
list_ = list_script(Job, ["name", "initial_step", "result_writer", "timeout_s", "description"])
delete = delete_script(Job)
