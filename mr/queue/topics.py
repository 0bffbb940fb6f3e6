"""Topic and channel naming: one topic per workflow and capability, one shared channel.

Data-plane work (a split's mapper, a partition's reducer) has a topic of its own per workflow
and capability, which workers read a few messages at a time (MR_DATA_CONCURRENCY): a worker
takes the next split only when it has a core free, so splits spread over the workers instead
of queueing behind one of them.
"""
from mr.kv.keys import MAX_TOPIC_PART, check_name

PREFIX = "mr"


DATA_SUFFIX = ".data"


def topic(workflow: str, capability: str, data_plane: bool = False) -> str:
    """mr.<workflow>.<capability>: routing by capability isolates workflows at the queue level;
    mr.<workflow>.<capability>.data carries the data plane's work."""
    check_name("workflow", workflow, MAX_TOPIC_PART)
    check_name("capability", capability.lower(), MAX_TOPIC_PART)
    name = f"{PREFIX}.{workflow}.{capability.lower()}"
    return name + DATA_SUFFIX if data_plane else name
