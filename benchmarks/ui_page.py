"""How fast the web view opens a request of 5,000 invocations (goal: under 2 s).

    python -m benchmarks.ui_page [--parts 5000] [--repeat 20] [--browser] [--json]

Starts etcd, mr_broker, two mr_worker processes (MR_CLEANUP=0, so the records stay) and
gunicorn in a temporary directory, runs one real `squares` request of N parts (a root, N
children and the root's reduction), then times over HTTP, on a warm front-end:

    page       GET /ui/bench/request/<id>: the whole HTML (request, progress counts, the root
               and its first page of 100 children)
    children   a page of children from the middle (what "next 100" loads)
    graph      the graphviz drawing (bounded to a few levels above 150 invocations)
    browser    with --browser: headless Chromium (Debian's chromium and chromium-driver) from
               navigation until the tree's first 101 nodes are on screen
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.systems.mr_engine import WORKFLOW, define
from mr import cluster
from mr.kv import client as kv_client
from mr.kv import keys

GOAL_S = 2.0


def start(base: Path) -> tuple[list[cluster.Service], str]:
    services = []

    def up(service: cluster.Service) -> cluster.Service:
        services.append(service)
        return service.start(60)
    try:
        etcd = up(cluster.etcd(base / "etcd", base / "etcd.log"))
        broker = up(cluster.broker(base / "broker", base / "broker.log"))
        env = {"MR_ETCD_HOSTS": etcd.address, "MR_NSQD_HOSTS": broker.address,
               "MR_NSQD_HTTP_HOSTS": broker.http_address, "MR_WORKFLOW_NAMES": WORKFLOW,
               "MR_CONCURRENCY": "64", "MR_CLEANUP": "0", "MR_DATA_DIR": str(base / "data"),
               "MR_REQUEST_TIMEOUT_S": "600"}
        kv = kv_client.client([etcd.address])
        define(kv)
        for n in (1, 2):
            up(cluster.worker(f"worker{n}", env, base / f"worker{n}.log"))
        cluster.wait_for(lambda: kv.count(keys.workers()) >= 2, 60, "workers registered")
        web = up(cluster.front_end(env, base / "gunicorn.log"))
    except BaseException:
        stop(services)
        raise
    return services, web.url


def stop(services: list[cluster.Service]) -> None:
    for service in reversed(services):
        service.stop()


def fetch(url: str) -> tuple[float, bytes]:
    began = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as reply:
        body = reply.read()
    return time.perf_counter() - began, body


def timed(url: str, repeat: int) -> dict:
    fetch(url)  # warm: the front-end process has loaded the workflow
    times = [fetch(url)[0] for _ in range(repeat)]
    return {"p50_s": round(statistics.median(times), 4), "max_s": round(max(times), 4),
            "runs": repeat}


def browser_times(url: str, repeat: int) -> dict:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        raise SystemExit("--browser needs Debian's chromium and chromium-driver: run "
                         "scripts/install")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(argument)
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    try:
        times = []
        for _ in range(repeat + 1):
            chrome.get("about:blank")
            began = time.perf_counter()
            chrome.get(url)
            cluster.wait_for(lambda: chrome.execute_script(
                "return document.querySelectorAll('#tree li[data-iid]').length") >= 101,
                timeout=60, interval=0.005, message="the tree on screen")
            times.append(time.perf_counter() - began)
        times = times[1:]  # the first load also fills the browser's cache
    finally:
        chrome.quit()
    return {"p50_s": round(statistics.median(times), 4), "max_s": round(max(times), 4),
            "runs": repeat}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ui_page", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", type=int, default=5000, help="children of the root")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--browser", action="store_true",
                        help="also time a headless Chromium until the tree is visible")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.parts < 1 or args.repeat < 1:
        parser.error("--parts and --repeat must be at least 1")

    with tempfile.TemporaryDirectory(prefix="mr-bench-ui-") as tmp:
        services, web = start(Path(tmp))
        try:
            request = urllib.request.Request(
                f"{web}/job/{WORKFLOW}/squares", json.dumps({"arguments": {
                    "n": args.parts}}).encode(), {"Content-Type": "application/json"})
            began = time.perf_counter()
            with urllib.request.urlopen(request, timeout=600) as reply:
                rid = json.load(reply)["request_id"]
            ran = time.perf_counter() - began
            base = f"{web}/ui/{WORKFLOW}/request/{rid}"
            _, body = fetch(base)
            shown = body.count(b'<li class="node')
            rows = {"page": timed(base, args.repeat),
                    "children": timed(f"{base}/children?of=0&start={args.parts // 2}",
                                      args.repeat),
                    "graph": timed(f"{base}/graph.svg", max(args.repeat // 4, 1))}
            if args.browser:
                rows["browser"] = browser_times(base, max(args.repeat // 2, 1))
        finally:
            stop(services)
    invocations = args.parts + 2
    report = {"invocations": invocations, "request_s": round(ran, 2), "nodes_in_page": shown,
              "page_bytes": len(body), "goal_s": GOAL_S, "timings": rows,
              "met": all(r["p50_s"] < GOAL_S for r in rows.values())}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"request of {invocations:,} invocations ran in {ran:.2f} s; its page holds "
              f"{shown} nodes ({len(body):,} bytes)")
        print(f"{'what':>9} {'p50 ms':>9} {'max ms':>9} {'runs':>5}")
        for name, r in rows.items():
            print(f"{name:>9} {r['p50_s'] * 1000:>9.1f} {r['max_s'] * 1000:>9.1f} "
                  f"{r['runs']:>5}")
        print(f"goal: under {GOAL_S:g} s — {'met' if report['met'] else 'NOT met'}")
    return 0 if report["met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
