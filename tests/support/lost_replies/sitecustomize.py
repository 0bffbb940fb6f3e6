"""Loaded by every Python process started with this folder on PYTHONPATH: when
LOSE_ETCD_REPLY names a key fragment, the first etcd transaction that puts a key containing it
commits, but its reply is lost (an UNAVAILABLE error, as when etcd dies after the commit), so
the client's own retry meets its own write. Per key, once."""
import os

LOSE = os.environ.get("LOSE_ETCD_REPLY", "").encode()

if LOSE:
    import grpc
    from pyetcd.etcdrpc import TxnRequest

    from mr.kv import client

    class _ReplyLost(grpc.RpcError):
        def code(self):
            return grpc.StatusCode.UNAVAILABLE

        def details(self):
            return "the reply was lost (tests.support.lost_replies)"

    _lost: set[bytes] = set()
    _real_call = client.KV._call

    def _first_put(request) -> bytes | None:
        for op in request.success:
            key = op.request_put.key if op.HasField("request_put") else b""
            if LOSE in key and key not in _lost:
                return key
        return None

    def _call(self, method, request):
        key = _first_put(request) if isinstance(request, TxnRequest) else None
        if key is None:
            return _real_call(self, method, request)
        _lost.add(key)
        # to the process's stdout itself: the commit may run in an invocation's thread, whose
        # sys.stdout goes to that invocation's log (mr.engine.context.capture_prints)
        os.write(1, f"lost_replies: the reply to the commit of {key.decode()} is lost\n"
                 .encode())
        sent = []

        def lossy(*args, **kwargs):
            reply = method(*args, **kwargs)
            if not sent:
                sent.append(reply)
                raise _ReplyLost()
            return reply
        return _real_call(self, lossy, request)

    client.KV._call = _call
