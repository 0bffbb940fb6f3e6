"""Loaded by every Python process started with this folder on PYTHONPATH: when
LOSE_ETCD_REPLY names a key fragment, the first reply to each commit that puts a key
containing it is lost (tests.support.lost_reply)."""
import os

if os.environ.get("LOSE_ETCD_REPLY"):
    from tests.support.lost_reply import lose_first_replies

    lose_first_replies(os.environ["LOSE_ETCD_REPLY"].encode())
