"""Notifications: email (SMTP) and webhooks (JSON POST) on engine events and from handler code.

    notifier = Notifier.from_settings(settings)
    notifier.notify("handler_exception", "mapper wc_map failed", {"request_id": rid, ...})

notify() never raises and never blocks on the network: each message is logged at INFO, then
queued for every channel's background thread. With no channel configured the log line is all.
MR_NOTIFY_EVENTS picks which events go out; the others are logged at DEBUG only.
"""
from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from mr.config import Settings
from mr.notify.dispatcher import Channel, Dispatcher
from mr.notify.smtp import SmtpChannel
from mr.notify.webhook import WebhookChannel

__all__ = ["EVENTS", "Notifier", "SmtpChannel", "WebhookChannel", "Channel"]

log = logging.getLogger("mr.notify")

EVENTS = ("handler_exception", "request_failed", "request_done", "library_updated", "custom")
MAX_SUBJECT = 200


class Notifier:
    def __init__(self, events: Iterable[str] = (), channels: Sequence[Channel] = (),
                 queue_size: int = 1000, host: str | None = None):
        self.events = frozenset(events)
        unknown = self.events - set(EVENTS)
        if unknown:
            raise ValueError(f"unknown notification events {sorted(unknown)}: use some of "
                             f"{', '.join(EVENTS)}")
        self.channels = list(channels)
        self.host = host if host is not None else socket.gethostname()
        self._dispatchers = [Dispatcher(channel, queue_size) for channel in self.channels]

    @classmethod
    def from_settings(cls, settings: Settings) -> Notifier:
        """The notifier the MR_NOTIFY_* and MR_SMTP_* settings describe; ValueError (naming
        the variable to fix) when they contradict each other."""
        unknown = set(settings.notify_events) - set(EVENTS)
        if unknown:
            raise ValueError(f"MR_NOTIFY_EVENTS: unknown events {sorted(unknown)}; use some "
                             f"of {', '.join(EVENTS)}")
        if settings.smtp_host and not settings.notify_email_to:
            raise ValueError("MR_SMTP_HOST is set but MR_NOTIFY_EMAIL_TO is empty: set the "
                             "recipients of notification emails (comma-separated)")
        if settings.notify_email_to and not settings.smtp_host:
            raise ValueError("MR_NOTIFY_EMAIL_TO is set but MR_SMTP_HOST is empty: set the "
                             "SMTP server that sends notification emails")
        channels: list[Channel] = []
        for url in settings.notify_webhook_urls:
            try:
                channels.append(WebhookChannel(url))
            except ValueError as exc:
                raise ValueError(f"MR_NOTIFY_WEBHOOK_URLS: {exc}") from None
        if settings.smtp_host:
            if settings.smtp_user and settings.smtp_tls == "none":
                log.warning("MR_SMTP_USER is set with MR_SMTP_TLS=none: the SMTP password "
                            "crosses the network in clear text")
            channels.append(SmtpChannel(
                settings.smtp_host, settings.smtp_port, settings.notify_email_from,
                settings.notify_email_to, settings.smtp_user, settings.smtp_password,
                settings.smtp_tls, settings.smtp_ca_file))
        return cls(settings.notify_events, channels)

    def enabled(self, event: str) -> bool:
        return event in self.events

    def notify(self, event: str, subject: str, details: dict | None = None) -> None:
        """Log the notification and queue it for every channel. Never raises."""
        try:
            if event not in EVENTS:
                log.error("notification with unknown event %r dropped (subject %r); use one "
                          "of %s", event, subject, ", ".join(EVENTS))
                return
            if not self.enabled(event):  # e.g. request_done, after every request
                if log.isEnabledFor(logging.DEBUG):
                    log.debug("notification %s (not in MR_NOTIFY_EVENTS): %s", event,
                              self._message(event, subject, details)["subject"])
                return
            message = self._message(event, subject, details)
            shown = json.dumps(message["details"])
            log.info("notification %s: %s %s", event, message["subject"],
                     shown if len(shown) <= 2000 else shown[:2000] + "...")
            for dispatcher in self._dispatchers:
                dispatcher.submit(message)
        except Exception:   # noqa: BLE001 - notifying must never break the caller
            log.exception("notification %r could not be prepared", event)

    def _message(self, event: str, subject: str, details: dict | None) -> dict:
        """The message every channel sends; details are copied into plain JSON now, so the
        caller may change its dict and odd values (dates, exceptions) become strings."""
        line = " ".join(str(subject).split())
        if len(line) > MAX_SUBJECT:
            line = line[:MAX_SUBJECT - 3] + "..."
        details = json.loads(json.dumps(dict(details or {}), default=str))
        return {"event": event, "subject": line, "details": details, "host": self.host,
                "time": datetime.now(UTC).isoformat(timespec="milliseconds")}

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait for queued notifications to be sent (tests, shutdown); False on timeout."""
        deadline = time.monotonic() + timeout
        return all([dispatcher.flush(max(0.0, deadline - time.monotonic()))
                    for dispatcher in self._dispatchers])

    def close(self, timeout: float = 5.0) -> bool:
        """Send what is queued, then stop the background threads; later notify() calls only
        log."""
        deadline = time.monotonic() + timeout
        return all([dispatcher.close(max(0.0, deadline - time.monotonic()))
                    for dispatcher in self._dispatchers])

    def __repr__(self) -> str:
        return (f"Notifier(events={sorted(self.events)}, "
                f"channels={[str(channel) for channel in self.channels]})")
