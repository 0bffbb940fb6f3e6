"""mr_worker: consume and run the invocations of some workflows and capabilities."""
from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
from dataclasses import replace

from mr import config, fs, metrics
from mr.cli.common import run, setup_logging
from mr.engine import registry
from mr.engine.runner import Runner
from mr.engine.sweeper import Sweeper
from mr.errors import UserError
from mr.handlers.library import Library
from mr.handlers.scope import HandlerScope, ScopeFactoryError, scope_for
from mr.kv import client as kv_client
from mr.kv import entities, keys
from mr.kv.batching import BatchingKV
from mr.kv.models import Handler
from mr.kv.store import Store
from mr.notify import Notifier
from mr.queue.publisher import Publisher
from mr.queue.topics import topic
from mr.worker import nsqd_link
from mr.worker.consumer import Consumer

log = logging.getLogger("mr.worker")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="mr_worker", description="Run invocations of the given workflows whose handlers "
        "need one of the given capabilities. Defaults come from MR_* environment variables.")
    parser.add_argument("--workflow", action="append", default=[],
                        help="workflow to serve (repeatable; default MR_WORKFLOW_NAMES)")
    parser.add_argument("--capability", action="append", default=[],
                        help="capability offered (repeatable; default MR_CAPABILITIES or general)")
    parser.add_argument("--concurrency", type=int, help="invocations run at once (MR_CONCURRENCY)")
    parser.add_argument("--data-concurrency", type=int,
                        help="data-plane invocations (input splits, shuffle partitions) run at "
                             "once (MR_DATA_CONCURRENCY, default 1: one worker per core)")
    parser.add_argument("--etcd-hosts", help="comma-separated etcd members (MR_ETCD_HOSTS)")
    parser.add_argument("--nsqd-tcp-address", action="append", default=[],
                        help="nsqd TCP address to consume from (repeatable; MR_NSQD_HOSTS)")
    parser.add_argument("--nsqd-http-address", action="append", default=[],
                        help="nsqd HTTP address to publish to (repeatable; MR_NSQD_HTTP_HOSTS)")
    parser.add_argument("--lookupd-http-address", action="append", default=[],
                        help="nsqlookupd HTTP address for discovery (repeatable; "
                             "MR_NSQLOOKUPD_HOSTS)")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> config.Settings:
    settings = config.load()
    overrides = {
        "workflow_names": args.workflow or None,
        "capabilities": [c.lower() for c in args.capability] or None,
        "concurrency": args.concurrency,
        "data_concurrency": args.data_concurrency,
        "etcd_hosts": args.etcd_hosts.split(",") if args.etcd_hosts else None,
        "nsqd_hosts": args.nsqd_tcp_address or None,
        "nsqd_http_hosts": args.nsqd_http_address or None,
        "nsqlookupd_hosts": args.lookupd_http_address or None,
    }
    return replace(settings, **{k: v for k, v in overrides.items() if v is not None})


def load_scopes(kv: Store, settings: config.Settings) -> dict[str, HandlerScope | None]:
    """Each workflow's scope factory, imported and called for its current handlers now: a
    broken one stops the worker here rather than failing requests later."""
    scopes: dict[str, HandlerScope | None] = {}
    for wf in settings.workflow_names:
        try:
            scope = scope_for(wf, entities.require_workflow(kv, wf).scope_factory,
                              settings.scope_factories)
            if scope is not None:
                scope.check([h.name for h in entities.list_all(kv, Handler, wf)])
        except ScopeFactoryError as exc:
            raise UserError(f"{exc}; fix the factory or the workflow's setting "
                            f"(MR_SCOPE_FACTORIES or mr_kv_workflow_create --scope-factory)"
                            ) from None
        scopes[wf] = scope
    return scopes


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.log_level)
    settings = settings_from(args)
    if not settings.workflow_names:
        raise UserError("no workflow to serve: pass --workflow or set MR_WORKFLOW_NAMES")
    for flag, value in (("--concurrency", settings.concurrency),
                        ("--data-concurrency", settings.data_concurrency)):
        if value < 1:
            raise UserError(f"{flag} must be at least 1")
    try:
        nsqd_options = nsqd_link.connection_options(settings)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    kv = kv_client.client(settings.etcd_hosts, settings.etcd_timeout_s)
    for wf in settings.workflow_names:
        try:
            keys.check_name("workflow", wf, keys.MAX_TOPIC_PART)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        if entities.get_workflow(kv, wf) is None:
            raise UserError(f"workflow {wf!r} does not exist; create it with "
                            f"mr_kv_workflow_create {wf} '<description>'")
    try:
        topics = {topic(wf, cap, data_plane): (settings.data_concurrency if data_plane
                                               else settings.concurrency)
                  for wf in settings.workflow_names for cap in settings.capabilities
                  for data_plane in (False, True)}
    except ValueError as exc:
        raise UserError(str(exc)) from None
    scopes = load_scopes(kv, settings)
    try:
        notifier = Notifier.from_settings(settings)
        for wf in settings.workflow_names:  # a bad MR_SHARED_FS_URL stops us here
            fs.workflow_fs(settings, wf)
    except (ValueError, ImportError) as exc:
        raise UserError(str(exc)) from None
    libraries = {wf: Library(kv, wf, scope=scopes[wf]).start() for wf in settings.workflow_names}
    worker_id = registry.new_worker_id()
    runner = Runner(BatchingKV(kv), Publisher.from_settings(settings), libraries, worker_id,
                    settings, lambda other: registry.is_alive(kv, other), notifier)
    metrics_port = (metrics.serve(settings.metrics_port, settings.nsqd_http_hosts)
                    if settings.metrics_port >= 0 else None)
    registration = registry.Registration(kv, worker_id, {
        "workflows": settings.workflow_names, "capabilities": settings.capabilities,
        "concurrency": settings.concurrency, "metrics_port": metrics_port}).start()
    sweeper = Sweeper(kv, Publisher.from_settings(settings), libraries, worker_id, settings,
                      lambda other: registry.is_alive(kv, other), notifier).start()
    log.info("worker %s serving %s (metrics on port %s)", worker_id, ", ".join(topics),
             metrics_port)
    consumer = Consumer(topics, settings.channel, metrics.counted(runner.handle),
                        settings.nsqd_hosts, settings.nsqlookupd_hosts, settings.msg_timeout_s,
                        nsqd_options)
    metrics.IN_FLIGHT.set_function(lambda: len(consumer.in_flight))
    try:
        consumer.run()
    finally:
        sweeper.stop()
        registration.stop()
        for library in libraries.values():
            library.stop()
        notifier.flush(5.0)
    log.info("worker %s stopped", worker_id)
    return 0


def console() -> None:
    _name_the_main_module()
    run(main)


def _name_the_main_module() -> None:
    """Run by its console script, the worker's main module is that script, and multiprocessing
    runs a main script again in each process it starts (before the target: forkserver
    too), so every split's data process imported the whole worker, some 30 ms. A main module
    that is a package's __main__, as under `python -m mr.worker`, it leaves alone."""
    script = sys.modules["__main__"]
    if getattr(script, "__spec__", None) is None:
        script.__spec__ = importlib.util.find_spec("mr.worker.__main__")
