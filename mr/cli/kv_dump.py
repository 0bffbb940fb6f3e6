"""mr_kv_dump: any key (or every key under a prefix) with its value decoded to JSON.

Records are msgpack, so `etcdctl get KEY` shows bytes; this decodes them: msgpack to JSON, else
UTF-8 text, else the bytes in base64. Text output is one JSON object per key, for jq and grep.
"""
from __future__ import annotations

import argparse
import base64
import itertools
import json
from typing import Any

import msgpack

from mr.cli.output import Output, script
from mr.kv.client import Entry
from mr.kv.codec import unpack
from mr.kv.store import Store


def decoded(raw: bytes) -> Any:
    try:
        return _plain(unpack(raw))
    except (ValueError, msgpack.UnpackException):
        pass
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(raw).decode("ascii")}


def _plain(value: Any) -> Any:
    """msgpack's bytes as base64 and map keys as strings: what JSON can hold."""
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("key", help='a key, e.g. /mr/workflows/examples, or a prefix with '
                                    '--prefix (README: "Key layout")')
    parser.add_argument("--prefix", action="store_true", help="every key under KEY")
    parser.add_argument("--limit", type=int, default=1000,
                        help="at most this many keys (default 1000)")


def _row(entry: Entry) -> dict:
    return {"key": entry.key, "mod_revision": entry.mod_revision, "value": decoded(entry.value)}


def _dump(kv: Store, args: argparse.Namespace) -> Output:
    if args.limit < 1:
        raise ValueError("--limit must be at least 1")
    if args.prefix:
        rows = [_row(e) for e in itertools.islice(kv.scan(args.key), args.limit)]
    else:
        entry = kv.get(args.key)
        if entry is None:
            raise ValueError(f"no key {args.key!r} (add --prefix for the keys under it)")
        rows = [_row(entry)]
    text = "\n".join(json.dumps(row, sort_keys=True) for row in rows)
    return Output(rows, text or f"(no keys under {args.key!r})")


dump = script("mr_kv_dump", "Print a key, or every key under a prefix, decoded to JSON.",
              _args, _dump)
