"""The example workflow: the word count (the main job) over a text and over files, and the
squares fan-out."""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from mr.handlers import sync
from mr.kv import entities
from mr.kv.models import Job, Step, Workflow
from mr.kv.store import Store

WORKFLOW = "examples"
WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")  # the same rule as handlers/wordcount/count_words.py
CORPUS_DIR = Path("/usr/share/common-licenses")


def steps(workflow: str) -> list[Step]:
    return [
        Step(workflow, "split", mapper="wordcount_split_text", reducer="wordcount_sum_reducer",
             description="split a text into chunks, one counting mapper each"),
        Step(workflow, "count", mapper="wordcount_count_words",
             combiner="wordcount_sum_combiner", reducer="wordcount_sum_reducer",
             description="count the words of one chunk"),
        Step(workflow, "count_files", mapper="wordcount_count_file",
             reducer="wordcount_sum_reducer", partitions=2,
             description="count the words of files, one mapper per split, two reducers"),
        Step(workflow, "squares", mapper="numbers_fan_out", reducer="numbers_total"),
        Step(workflow, "square", mapper="numbers_square", reducer="numbers_total"),
    ]


def jobs(workflow: str) -> list[Job]:
    return [Job(workflow, "wordcount", "split", "count the words of a text"),
            Job(workflow, "wordcount_files", "count_files", "count the words of files",
                inputs=[CORPUS_DIR.as_uri()]),
            Job(workflow, "squares", "squares", "sum of i*i for i < n")]


def define(kv: Store, handlers_dir: Path, workflow: str = WORKFLOW) -> sync.SyncPlan:
    """Create the workflow if needed, sync its handlers, then (re)write its steps and jobs."""
    if entities.get_workflow(kv, workflow) is None:
        entities.create_workflow(kv, Workflow(workflow, "examples shipped with mr"))
    plan = sync.plan(kv, workflow, handlers_dir)
    sync.apply(kv, workflow, plan)
    for definition in steps(workflow) + jobs(workflow):
        entities.save(kv, definition)
    return plan


def corpus(directory: Path = CORPUS_DIR) -> str:
    """Every licence text on this machine: real prose, a few hundred KiB."""
    texts = [p.read_text(encoding="utf-8", errors="replace")
             for p in sorted(directory.glob("*")) if p.is_file()]
    if not texts:
        raise FileNotFoundError(f"no text files under {directory}")
    return "\n".join(texts)


def count_locally(text: str) -> dict[str, int]:
    """The plain in-process count the distributed result must equal."""
    return dict(Counter(WORD.findall(text.lower())))
