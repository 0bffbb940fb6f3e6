"""Index one split of the big-data benchmark's records (word -> ids of the records whose text
has it) with the function every compared system runs, handed back as one mapping.

**
handler_type: mapper
required_capability: general
input: jsonl
"""
from benchmarks.bigdata_jobs import index_records


def handle(ctx, records):
    return index_records(records)
