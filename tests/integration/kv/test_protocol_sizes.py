"""Children whose records together pass etcd's request limit are created in several
transactions, against the real etcd."""
from mr.engine import protocol, request_protocol
from mr.kv import keys
from mr.kv.models import Invocation, Request
from tests.support.cluster import unique


def test_large_children_are_split_under_etcds_request_limit(kv):
    request = Request(workflow="sizes", id=unique("big"), job="j", arguments=[])
    assert request_protocol.create_request(kv, request, Invocation(id="0", step="s"))
    value = "x" * (200 * 1024)  # 40 children of 200 KiB: 8 MiB, far over 1.5 MiB at once
    children = [Invocation(id=f"0.{i}", step="s", arguments=[[i, value]]) for i in range(40)]
    assert protocol.create_children(kv, "sizes", request.id, children)
    assert kv.count(keys.invocations("sizes", request.id)) == 41
    again = protocol.create_children(kv, "sizes", request.id, children)  # a re-run parent
    assert again and kv.count(keys.invocations("sizes", request.id)) == 41
