"""mr_submit: post one request per line of a JSON-lines file, some at a time, with progress.

Each line is a JSON object: the request's arguments, or {"arguments": {...}, "name": "..."}.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TextIO

from mr.cli.common import run
from mr.cli.progress_bar import ProgressLine, duration
from mr.errors import UserError

DEFAULT_URL = "http://127.0.0.1:8080"


def default_url() -> str:
    """$MR_URL; else the front-end MR_HTTP_BIND names (the cluster's own setting); else the
    dev cluster's."""
    bind = os.environ.get("MR_HTTP_BIND", "")
    if os.environ.get("MR_URL"):
        return os.environ["MR_URL"]
    if bind and not bind.startswith("unix:"):
        host, _, port = bind.rpartition(":")
        return f"http://{'127.0.0.1' if host in ('', '0.0.0.0') else host}:{port}"
    return DEFAULT_URL


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="mr_submit", description="Submit one request per line of a JSON-lines file "
        "(or standard input) to a front-end, N at a time, with a progress bar and a summary.")
    parser.add_argument("workflow")
    parser.add_argument("job")
    parser.add_argument("--file", "-f", help="JSON lines, one request each (default: stdin)")
    parser.add_argument("--concurrency", "-c", type=int, default=8,
                        help="requests in flight at once (default 8)")
    parser.add_argument("--url", default=default_url(),
                        help=f"front-end base URL (default $MR_URL, else http://$MR_HTTP_BIND, "
                             f"else {DEFAULT_URL})")
    parser.add_argument("--token", default=os.environ.get("MR_TOKEN"),
                        help="bearer token, when the front-end requires one (default $MR_TOKEN)")
    parser.add_argument("--output", "-o", help="write each reply as a JSON line to this file")
    parser.add_argument("--json", action="store_true",
                        help="print the summary as JSON (counts and what failed)")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds to wait for each request (default 600)")
    return parser.parse_args(argv)


def read_lines(stream: TextIO) -> Iterator[tuple[int, dict]]:
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise UserError(f"line {number}: not JSON ({exc})") from None
        if not isinstance(item, dict):
            raise UserError(f"line {number}: expected a JSON object, got "
                            f"{type(item).__name__}")
        yield number, item if "arguments" in item else {"arguments": item}


def post(args: argparse.Namespace, item: dict) -> tuple[int, dict]:
    query = {"name": item["name"]} if item.get("name") else {}
    url = (f"{args.url.rstrip('/')}/job/{urllib.parse.quote(args.workflow)}/"
           f"{urllib.parse.quote(args.job)}" + (f"?{urllib.parse.urlencode(query)}"
                                                if query else ""))
    headers = {"Content-Type": "application/json"}
    if args.token:
        headers["Authorization"] = f"Bearer {args.token}"
    request = urllib.request.Request(url, json.dumps({"arguments": item["arguments"]}).encode(),
                                     headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=args.timeout) as reply:
            return reply.status, json.load(reply)
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.load(exc)
        except ValueError:
            return exc.code, {"error": exc.reason}
    except (OSError, ValueError) as exc:
        return 0, {"error": f"{exc.__class__.__name__}: {exc}"}


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.concurrency < 1:
        raise UserError("--concurrency must be at least 1")
    try:
        stream = open(args.file) if args.file else sys.stdin
    except OSError as exc:
        raise UserError(f"cannot read {args.file}: {exc}") from None
    with stream:
        items = list(read_lines(stream))
    if not items:
        raise UserError("no requests to submit (the input has no JSON lines)")
    out = open(args.output, "w") if args.output else None
    line = ProgressLine(sys.stderr)
    done: list[dict] = []
    failed: list[dict] = []
    lock = threading.Lock()
    started = time.monotonic()

    def label() -> str:
        elapsed = time.monotonic() - started
        return (f"{len(done)} done, {len(failed)} failed of {len(items)} | "
                f"{duration(elapsed)} elapsed")

    with ThreadPoolExecutor(args.concurrency) as pool:
        futures = {pool.submit(post, args, item): number for number, item in items}
        for future in as_completed(futures):
            status, body = future.result()
            with lock:
                record = {"line": futures[future], "status": status, **body}
                (done if status == 200 else failed).append(record)
                if out:
                    out.write(json.dumps(record) + "\n")
                line.show((len(done) + len(failed)) / len(items), label())
    line.finish(1.0, label())
    if out:
        out.close()
    failed.sort(key=lambda r: r["line"])
    if args.json:
        print(json.dumps({"done": len(done), "failed": len(failed), "submitted": len(items),
                          "failures": failed}))
        return 0 if not failed else 1
    print(f"{len(done)} done, {len(failed)} failed, {len(items)} submitted")
    for record in failed:
        print(f"  line {record['line']}: HTTP {record['status'] or '-'} "
              f"request {record.get('request_id', '-')}: {record.get('error', '')}")
    return 0 if not failed else 1


def console() -> None:
    run(lambda: main())
