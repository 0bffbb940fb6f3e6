"""Which handler of its step an invocation runs: the worker that takes it, the topic it is
published on again and the name its record shows all follow from this."""
from __future__ import annotations

from mr.engine.lookup import role_of
from mr.kv.models import MAP, PARTITION, REDUCE, Invocation, Step

SHUFFLED = Step("wf", "count", mapper="words", reducer="sum", partitions=4)
MAP_ONLY = Step("wf", "clean", mapper="clean_rows", reducer=None)


def test_mappers_map_and_reductions_reduce():
    assert role_of(Invocation("0.3", "count", kind=MAP), SHUFFLED) == "mapper"
    assert role_of(Invocation("0.r", "count", kind=REDUCE), SHUFFLED) == "reducer"
    assert role_of(Invocation("0.r.2", "count", kind=PARTITION), SHUFFLED) == "reducer"


def test_a_map_only_steps_reduction_goes_where_its_mapper_runs():
    """It only gathers the splits' parts: there is no reducer whose capability it needs."""
    assert role_of(Invocation("0.r", "clean", kind=REDUCE), MAP_ONLY) == "mapper"
    assert role_of(Invocation("0.7", "clean", kind=MAP), MAP_ONLY) == "mapper"
