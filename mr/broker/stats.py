"""/stats: nsqd's JSON document and its plain-text rendering."""
from __future__ import annotations

import time
from collections.abc import Iterable

from mr.broker import tls
from mr.broker.channel import Channel, Consumer
from mr.broker.core import BrokerCore
from mr.broker.options import VERSION
from mr.broker.tcp import ClientConnection
from mr.broker.topic import Topic

HEALTH_OK = "OK"


def client_stats(client: ClientConnection) -> dict:
    """nsqd's ClientV2Stats JSON for one connection."""
    data = {
        "client_id": client.client_id, "hostname": client.hostname, "version": "V2",
        "remote_address": client.remote_address, "state": client.state,
        "ready_count": client.rdy, "in_flight_count": len(client.in_flight),
        "message_count": client.message_count, "finish_count": client.finish_count,
        "requeue_count": client.requeue_count, "connect_ts": client.connect_ts,
        "sample_rate": client.sample_rate,
        "deflate": getattr(client.codec, "name", "") == "deflate",
        "snappy": getattr(client.codec, "name", "") == "snappy",
        "user_agent": client.user_agent, "topology_zone": "", "topology_region": "",
        **tls.describe(client.transport if client.tls else None),
        "tls_negotiated_protocol": "", "tls_negotiated_protocol_is_mutual": False,
    }
    # nsqd leaves these out (omitempty) for a client without authorizations
    if client.auth_state is not None and client.authed:
        data.update(authed=True, auth_identity=client.auth_state.identity,
                    auth_identity_url=client.auth_state.identity_url)
    if client.pub_counts:
        data["pub_counts"] = [{"topic": t, "count": c} for t, c in client.pub_counts.items()]
    return data


def _connections(consumers: Iterable[Consumer]) -> list[dict]:
    """The stats of a channel's consumers: the TCP side's connections, the only kind."""
    return [client_stats(c) for c in consumers if isinstance(c, ClientConnection)]


def _channel_stats(channel: Channel, include_clients: bool) -> dict:
    return {
        "channel_name": channel.name,
        "depth": len(channel.backlog),
        "backend_depth": channel.backlog.disk_depth,
        "in_flight_count": channel.in_flight_count,
        "deferred_count": channel.deferred_count,
        "message_count": channel.message_count,
        "requeue_count": channel.requeue_count,
        "timeout_count": channel.timeout_count,
        "client_count": len(channel.clients),
        "clients": _connections(channel.clients) if include_clients else [],
        "paused": channel.paused,
        "e2e_processing_latency": {"count": 0, "percentiles": None},
    }


def _topic_stats(topic: Topic, channel_name: str, include_clients: bool) -> dict:
    channels = [c for name, c in sorted(topic.channels.items())
                if not channel_name or name == channel_name]
    return {
        "topic_name": topic.name,
        "channels": [_channel_stats(c, include_clients) for c in channels],
        "depth": topic.depth,
        "backend_depth": topic.backlog.disk_depth,
        "message_count": topic.message_count,
        "message_bytes": topic.message_bytes,
        "paused": topic.paused,
        "e2e_processing_latency": {"count": 0, "percentiles": None},
    }


def collect(broker: BrokerCore, topic_name: str = "", channel_name: str = "",
            include_clients: bool = True) -> dict:
    """The JSON nsqd serves for /stats?format=json (without Go memory statistics)."""
    topics = [t for name, t in sorted(broker.topics.items())
              if not topic_name or name == topic_name]
    producers = ([client_stats(c) for c in broker.clients
                  if isinstance(c, ClientConnection) and c.pub_counts]
                 if include_clients else [])
    return {
        "version": VERSION,
        "health": HEALTH_OK,
        "start_time": broker.start_time,
        "topics": [_topic_stats(t, channel_name, include_clients) for t in topics],
        "producers": producers,
    }


def render_text(stats: dict) -> str:
    """The human-readable /stats page, laid out as nsqd's."""
    start = stats["start_time"]
    lines = [f"mr_broker v{stats['version']}",
             f"start_time {time.strftime('%Y-%m-%dT%H:%M:%S%z', time.localtime(start))}",
             f"uptime {int(time.time() - start)}s", "", f"Health: {stats['health']}", ""]
    if not stats["topics"]:
        lines.append("Topics: None")
    else:
        lines.append("Topics:")
    for t in stats["topics"]:
        mark = "*P " if t["paused"] else "   "
        lines.append(f"{mark}[{t['topic_name']:<15}] depth: {t['depth']:<5} "
                     f"be-depth: {t['backend_depth']:<5} msgs: {t['message_count']:<8}")
        for c in t["channels"]:
            mark = "   *P " if c["paused"] else "      "
            lines.append(f"{mark}[{c['channel_name']:<25}] depth: {c['depth']:<5} "
                         f"be-depth: {c['backend_depth']:<5} inflt: {c['in_flight_count']:<4} "
                         f"def: {c['deferred_count']:<4} re-q: {c['requeue_count']:<5} "
                         f"timeout: {c['timeout_count']:<5} msgs: {c['message_count']:<8}")
            for client in c["clients"]:
                lines.append(f"        [V2 {client['hostname']} {client['user_agent']}] "
                             f"state: {client['state']} inflt: {client['in_flight_count']:<4} "
                             f"rdy: {client['ready_count']:<4} fin: {client['finish_count']:<8} "
                             f"re-q: {client['requeue_count']:<8} "
                             f"msgs: {client['message_count']:<8}")
    lines.append("")
    if not stats["producers"]:
        lines.append("Producers: None")
    else:
        lines.append("Producers:")
        for p in stats["producers"]:
            counts = ",".join(f"{c['topic']}={c['count']}" for c in p.get("pub_counts", []))
            lines.append(f"   [V2 {p['hostname']} {p['user_agent']}] topics: {counts}")
    return "\n".join(lines) + "\n"
