"""Email notifications through an SMTP server (smtplib): optional login, and TLS either
upgraded with STARTTLS or from the first byte ("ssl", usually port 465).

Named smtp.py, not email.py, so it never shadows the standard library's `email` package.
"""
from __future__ import annotations

import json
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid


class SmtpChannel:
    def __init__(self, host: str, port: int, sender: str, recipients: list[str],
                 user: str = "", password: str = "", tls: str = "none", ca_file: str = "",
                 timeout: float = 10.0):
        if tls not in ("none", "starttls", "ssl"):
            raise ValueError(f"SMTP TLS mode {tls!r}: use none, starttls or ssl")
        if not recipients:
            raise ValueError("an email notification needs at least one recipient")
        self.host, self.port, self.sender, self.recipients = host, port, sender, recipients
        self.user, self.password, self.tls = user, password, tls
        self.ca_file, self.timeout = ca_file, timeout

    def __str__(self) -> str:
        return f"email to {', '.join(self.recipients)} via {self.host}:{self.port}"

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file or None)

    def send(self, message: dict) -> None:
        email = build_email(message, self.sender, self.recipients)
        client: smtplib.SMTP
        if self.tls == "ssl":
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                      context=self._context())
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with client:
            if self.tls == "starttls":
                client.starttls(context=self._context())
            if self.user:
                client.login(self.user, self.password)
            refused = client.send_message(email)
        if refused:
            raise RuntimeError(f"the SMTP server refused recipients {sorted(refused)}")


def build_email(message: dict, sender: str, recipients: list[str]) -> EmailMessage:
    """A plain-text email: the subject line, who/where/when, then each detail (tracebacks
    keep their lines)."""
    email = EmailMessage()
    email["Subject"] = f"[mr {message['event']}] {message['subject']}"
    email["From"] = sender
    email["To"] = ", ".join(recipients)
    email["Date"] = formatdate(localtime=True)
    email["Message-ID"] = make_msgid(domain=message["host"] or None)
    lines = [message["subject"], "", f"event: {message['event']}",
             f"host:  {message['host']}", f"time:  {message['time']}"]
    if message["details"]:
        lines += ["", "details:"]
        for key, value in message["details"].items():
            text = value if isinstance(value, str) else json.dumps(value)
            if "\n" in text:
                lines += [f"  {key}:", *(f"    {line}" for line in text.rstrip().split("\n"))]
            else:
                lines.append(f"  {key}: {text}")
    email.set_content("\n".join(lines) + "\n")
    return email
