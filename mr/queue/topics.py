"""Topic and channel naming: one topic per workflow and capability, one shared channel."""
from mr.kv.keys import MAX_TOPIC_PART, check_name

PREFIX = "mr"


def topic(workflow: str, capability: str) -> str:
    """mr.<workflow>.<capability>: routing by capability isolates workflows at the queue level."""
    check_name("workflow", workflow, MAX_TOPIC_PART)
    check_name("capability", capability.lower(), MAX_TOPIC_PART)
    return f"{PREFIX}.{workflow}.{capability.lower()}"
