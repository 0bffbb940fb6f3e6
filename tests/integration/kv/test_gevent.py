"""Under gevent (as in gunicorn's workers) a watch blocked in one greenlet must not stall others.

Without grpc's gevent integration a watch hangs the whole process; this runs the real thing in
a monkey-patched subprocess and checks every write was seen by the watch.
"""
import json
import subprocess
import sys


def test_watch_in_one_greenlet_while_fifty_write(etcd):
    result = subprocess.run([sys.executable, "-m", "benchmarks.etcd_client", "--etcd",
                             etcd.address, "--greenlets", "50", "--seconds", "0.5"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    seen, written = map(int, report["watch_events"].split("/"))
    assert written > 50 and seen == written
