"""A scaled-out cluster on loopback addresses: what production runs on many hosts, on one.

A 3-member etcd cluster, 2 brokers registering with 1 mr_lookupd, 3 workers that find the
brokers through it, 2 front-ends (gunicorn, prod settings, unix sockets) behind nginx whose
upstream names both. Every front-end and worker publishes to its "local" broker first and
fails over to the other. scripts/loopback_topology and tests/integration/topology use it.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from mr import cluster, examples
from mr.cli.common import run
from mr.cluster import Service, free_port, wait_for
from mr.errors import UserError
from mr.kv import entities, keys
from mr.kv.client import KV
from mr.kv.codec import unpack
from mr.kv.models import Handler
from mr.queue.topics import topic as topic_name

REPO = Path(__file__).resolve().parents[1]
HANDLERS = REPO / "handlers"
SITE = REPO / "nginx" / "mr.conf"
MAIN_CONF = REPO / "nginx" / "topology.conf"
# The two host-specific lines of nginx/mr.conf, replaced for this topology.
SITE_UPSTREAM = "    server unix:/run/mr/gunicorn.sock fail_timeout=0;\n"
SITE_LISTEN = "listen 80;"
ETCD_MEMBERS, BROKERS, FRONT_ENDS, WORKERS = 3, 2, 2, 3
CHANNEL = "workers"


@dataclass
class Ports:
    etcd_client: list[int]
    etcd_peer: list[int]
    broker_tcp: list[int]
    broker_http: list[int]
    lookupd_tcp: int
    lookupd_http: int
    nginx: int

    @classmethod
    def fixed(cls) -> Ports:
        """The script's ports: clear of the dev cluster's (2379, 4150/4151, 8080)."""
        return cls([22379, 22389, 22399], [22380, 22390, 22400], [24150, 24250],
                   [24151, 24251], 24160, 24161, 28080)

    @classmethod
    def free(cls) -> Ports:
        """Free ports (for tests), all different."""
        chosen: set[int] = set()

        def pick() -> int:
            port = free_port()
            while port in chosen:
                port = free_port()
            chosen.add(port)
            return port
        return cls([pick() for _ in range(ETCD_MEMBERS)], [pick() for _ in range(ETCD_MEMBERS)],
                   [pick() for _ in range(BROKERS)], [pick() for _ in range(BROKERS)],
                   pick(), pick(), pick())


def nginx_binary() -> str | None:
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")


def render_site(sockets: list[Path], port: int) -> str:
    """nginx/mr.conf with an upstream naming every socket and a loopback listen address."""
    text = SITE.read_text()
    for line in (SITE_UPSTREAM, SITE_LISTEN):
        if text.count(line) != 1:
            raise ValueError(f"{SITE} should contain {line.strip()!r} exactly once")
    servers = "".join(f"    server unix:{sock} fail_timeout=0;\n" for sock in sockets)
    return text.replace(SITE_UPSTREAM, servers).replace(SITE_LISTEN, f"listen 127.0.0.1:{port};")


def render_main(prefix: Path, site: Path) -> str:
    user = "user root;" if os.geteuid() == 0 else ""
    return (MAIN_CONF.read_text().replace("@USER@", user).replace("@PREFIX@", str(prefix))
            .replace("@SITE@", str(site)))


class Topology:
    """Every process of the topology, started in dependency order and stopped in reverse."""

    def __init__(self, base: Path, ports: Ports, workflow: str = examples.WORKFLOW,
                 extra_env: dict[str, str] | None = None, concurrency: int = 4) -> None:
        self.base = base
        self.ports = ports
        self.workflow = workflow
        self.extra_env = dict(extra_env or {})
        self.concurrency = concurrency
        logs = base / "logs"
        initial = ",".join(f"etcd{i}=http://127.0.0.1:{p}"
                           for i, p in enumerate(ports.etcd_peer, 1))
        self.etcd = [cluster.etcd_member(f"etcd{i}", base / f"etcd{i}", logs / f"etcd{i}.log",
                                         client, peer, initial)
                     for i, (client, peer) in enumerate(zip(ports.etcd_client,
                                                            ports.etcd_peer), 1)]
        self.lookupd = cluster.lookupd(logs / "lookupd.log", ports.lookupd_tcp,
                                       ports.lookupd_http)
        self.brokers = [cluster.broker(
            base / f"broker{i}", logs / f"broker{i}.log", tcp, http,
            "--broadcast-address=127.0.0.1", f"--lookupd-tcp-address={self.lookupd.address}",
            name=f"broker{i}") for i, (tcp, http) in enumerate(zip(ports.broker_tcp,
                                                                    ports.broker_http), 1)]
        self.workers = [cluster.worker(f"worker{i}", self.env(i - 1), logs / f"worker{i}.log",
                                       "--concurrency", str(concurrency))
                        for i in range(1, WORKERS + 1)]
        self.sockets = [base / f"front{i}.sock" for i in range(1, FRONT_ENDS + 1)]
        self.front_ends = [self._front_end(i, sock) for i, sock in enumerate(self.sockets, 1)]
        self.nginx = self._nginx()

    # -- wiring -----------------------------------------------------------------------------
    @property
    def etcd_hosts(self) -> list[str]:
        return [member.address for member in self.etcd]

    @property
    def url(self) -> str:
        return self.nginx.url

    def env(self, local: int) -> dict[str, str]:
        """A process's MR_* settings; brokers listed from its local one (index `local`)."""
        order = [self.brokers[(local + k) % BROKERS] for k in range(BROKERS)]
        return {"MR_ETCD_HOSTS": ",".join(self.etcd_hosts),
                "MR_NSQLOOKUPD_HOSTS": self.lookupd.http_address,
                "MR_NSQD_HOSTS": ",".join(b.address for b in order),
                "MR_NSQD_HTTP_HOSTS": ",".join(b.http_address for b in order),
                "MR_WORKFLOW_NAMES": self.workflow,
                "MR_DATA_DIR": str(self.base / "data"),
                **self.extra_env}

    def _front_end(self, n: int, sock: Path) -> Service:
        """mr_start_gunicorn_prod on its own socket, named front<n> in request contexts."""
        launcher = [sys.executable, "-c", "from mr.cli.gunicorn import prod; prod()"]
        env = {**self.env(n - 1), "MR_HTTP_BIND": f"unix:{sock}", "MR_HTTP_WORKERS": "1",
               "MR_FRONT_END_NAME": f"front{n}"}
        return Service(f"front{n}", launcher, self.base / "logs" / f"front{n}.log",
                       cluster.unix_http_ok(sock), env=env, address=f"unix:{sock}")

    def _nginx(self) -> Service:
        prefix = self.base / "nginx"
        url = f"http://127.0.0.1:{self.ports.nginx}"
        argv = [nginx_binary() or "nginx", "-p", str(prefix), "-e", str(prefix / "error.log"),
                "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"]
        return Service("nginx", argv, self.base / "logs" / "nginx.log",
                       cluster.http_ok(f"{url}/"), url=url)

    def services(self) -> list[Service]:
        """In start order."""
        return [*self.etcd, self.lookupd, *self.brokers, *self.workers, *self.front_ends,
                self.nginx]

    # -- life -------------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> Topology:
        """Start everything; on any failure stop what started and raise."""
        try:
            for member in self.etcd:  # a member is healthy only once a quorum runs
                member.start(wait=False)
            for member in self.etcd:
                member.wait_ready(timeout)
            self.lookupd.start(timeout)
            for broker in self.brokers:
                broker.start(timeout)
            self.define()
            for worker in self.workers:
                worker.start(timeout)
            wait_for(self._workers_registered, timeout, "3 workers registered in etcd")
            for front_end in self.front_ends:
                front_end.start(timeout)
            self._write_nginx_conf()
            self.nginx.start(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for service in reversed(self.services()):
            service.stop()

    def kv(self, timeout: float = 30.0) -> KV:
        return KV(self.etcd_hosts, timeout=timeout)

    def define(self) -> None:
        """The example workflow, and its topics and channel on every broker."""
        kv = self.kv()
        try:
            examples.define(kv, HANDLERS, self.workflow)
        finally:
            kv.close()
        self.create_topics(self.workflow)

    def create_topics(self, workflow: str) -> None:
        """The topic of each capability `workflow`'s handlers need, and its channel, on every
        broker: each worker then finds every broker at its first lookup, instead of at its
        next poll after the first message reaches that broker."""
        kv = self.kv()
        try:
            capabilities = {h.required_capability
                            for h in entities.list_all(kv, Handler, workflow)}
        finally:
            kv.close()
        for broker in self.brokers:
            for capability in sorted(capabilities):
                name = topic_name(workflow, capability)
                _post(broker, f"/topic/create?topic={name}")
                _post(broker, f"/channel/create?topic={name}&channel={CHANNEL}")

    def _workers_registered(self) -> bool:
        kv = self.kv(5)
        try:
            pids = {unpack(e.value).get("pid") for e in kv.scan(keys.workers())}
        finally:
            kv.close()
        return all(w.pid in pids for w in self.workers)

    def _write_nginx_conf(self) -> None:
        prefix = self.base / "nginx"
        prefix.mkdir(parents=True, exist_ok=True)
        site = prefix / "mr-site.conf"
        site.write_text(render_site(self.sockets, self.ports.nginx))
        (prefix / "nginx.conf").write_text(render_main(prefix, site))

    def describe(self) -> dict:
        """Addresses of everything, for people and scripts."""
        return {"url": self.url, "etcd": self.etcd_hosts,
                "lookupd": {"tcp": self.lookupd.address, "http": self.lookupd.http_address},
                "brokers": [{"tcp": b.address, "http": b.http_address} for b in self.brokers],
                "front_ends": [f.address for f in self.front_ends],
                "workflow": self.workflow}


def _post(service: Service, path: str) -> None:
    request = urllib.request.Request(f"http://{service.http_address}{path}", data=b"",
                                     method="POST")
    with urllib.request.urlopen(request, timeout=10) as reply:
        reply.read()


def broker_settled(broker: Service) -> bool:
    """Nothing queued, deferred or in flight on any channel of the broker."""
    with urllib.request.urlopen(f"http://{broker.http_address}/stats?format=json",
                                timeout=5) as reply:
        stats = json.load(reply)
    return all(c["depth"] == 0 and c["in_flight_count"] == 0 and c["deferred_count"] == 0
               for t in stats["topics"] for c in t["channels"])


# -- scripts/loopback_topology ------------------------------------------------------------------
def state_dir() -> Path:
    return Path(os.environ.get("MR_TOPOLOGY_DIR", Path.home() / ".mr-topology"))


def _state_file() -> Path:
    return state_dir() / "topology.json"


def _load_state() -> dict:
    try:
        return json.loads(_state_file().read_text())
    except (OSError, ValueError):
        return {}


def _running(state: dict) -> dict[str, int]:
    return {name: pid for name, pid in state.get("pids", []) if cluster.pid_alive(pid)}


def client_env(described: dict) -> dict[str, str]:
    """What a shell needs to run the admin scripts and clients against the topology."""
    return {"MR_ETCD_HOSTS": ",".join(described["etcd"]),
            "MR_NSQLOOKUPD_HOSTS": described["lookupd"]["http"],
            "MR_NSQD_HOSTS": ",".join(b["tcp"] for b in described["brokers"]),
            "MR_NSQD_HTTP_HOSTS": ",".join(b["http"] for b in described["brokers"])}


def start(_args) -> int:
    state = _load_state()
    if _running(state):
        print(f"the topology is already running (state in {_state_file()}); "
              f"'scripts/loopback_topology stop' stops it")
        return 0
    base = state_dir()
    print(f"starting the loopback topology in {base} (logs in {base / 'logs'})")
    topo = Topology(base, Ports.fixed(), extra_env={"MR_CLEANUP": "0"})
    try:
        topo.start()
    except (OSError, RuntimeError, TimeoutError) as exc:
        raise UserError(f"{exc}\nthe topology's ports are fixed (etcd 22379-22400, brokers "
                        f"24150/24151 24250/24251, lookupd 24160/24161, nginx 28080): are they "
                        f"free? see the logs in {base / 'logs'}") from None
    described = topo.describe()
    _state_file().write_text(json.dumps({"pids": [[s.name, s.pid] for s in topo.services()],
                                         "describe": described}, indent=1))
    for service in topo.services():
        where = service.url or service.http_address or service.address
        print(f"  {service.name:<8} pid {service.pid:<7} {where}")
    print(f"POST jobs to {topo.url}/job/{topo.workflow}/wordcount; for the admin scripts:\n"
          f"  eval \"$(scripts/loopback_topology env)\"")
    return 0


def stop(_args) -> int:
    state = _load_state()
    running = _running(state)
    for name, pid in reversed(state.get("pids", [])):
        if name in running:
            cluster.terminate(pid)
            print(f"stopped {name} (pid {pid})")
    _state_file().unlink(missing_ok=True)
    return 0


def status(_args) -> int:
    state = _load_state()
    running = _running(state)
    for name, pid in state.get("pids", []):
        print(f"{name:<8} {'running, pid ' + str(pid) if name in running else 'stopped'}")
    if not state:
        print("not started ('scripts/loopback_topology start')")
    return 0 if state and len(running) == len(state["pids"]) else 1


def env(_args) -> int:
    state = _load_state()
    if not state:
        raise UserError("the topology is not running: 'scripts/loopback_topology start'")
    for name, value in client_env(state["describe"]).items():
        print(f"export {name}={value}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="loopback_topology", description="Start, stop or inspect the loopback topology: "
        "3 etcd members, 2 brokers + mr_lookupd, 3 workers, 2 front-ends behind nginx. "
        "State and logs live in MR_TOPOLOGY_DIR (default ~/.mr-topology).")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("start", help="start every process (the example workflow is installed)")
    sub.add_parser("stop", help="stop every process, front to back")
    sub.add_parser("status", help="show which processes run (exit 1 unless all do)")
    sub.add_parser("env", help="print export lines that point MR_* settings at the topology")
    args = parser.parse_args(argv)
    return {"start": start, "stop": stop, "status": status, "env": env}[args.command](args)


if __name__ == "__main__":
    run(main)
