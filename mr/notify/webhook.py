"""HTTP notifications: the message as a JSON POST to a webhook URL, with a short timeout and a
few retries with backoff on connection errors, timeouts, 429 and 5xx answers (a 4xx other
than 429 will not get better, so it is not retried)."""
from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request


class WebhookChannel:
    def __init__(self, url: str, timeout: float = 5.0, attempts: int = 3,
                 backoff_s: float = 0.5):
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook URL {url!r} must start with http:// or https://")
        self.url, self.timeout = url, timeout
        self.attempts, self.backoff_s = max(1, attempts), backoff_s

    def __str__(self) -> str:
        return f"webhook {self.url}"

    def send(self, message: dict) -> None:
        body = json.dumps(message).encode("utf-8")
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            request = urllib.request.Request(
                self.url, data=body, method="POST",
                headers={"Content-Type": "application/json", "User-Agent": "mr-notify"})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                    reply.read()
                return
            except urllib.error.HTTPError as exc:
                exc.close()
                error: Exception = RuntimeError(f"{self.url} answered {exc.code} {exc.reason}")
                if exc.code < 500 and exc.code != 429:
                    raise error from None
            except (OSError, http.client.HTTPException) as exc:
                error = exc
        raise RuntimeError(f"gave up after {self.attempts} attempts: {error}")
