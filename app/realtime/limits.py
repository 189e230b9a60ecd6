"""What keeps one client from flooding the service: a token bucket per socket, short names in logs."""

from __future__ import annotations

import time


class RateLimiter:
    def __init__(self, *, rate_per_second: float, burst: int) -> None:
        self.rate = rate_per_second
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1, now)
        return True

    def forget(self, key: str) -> None:
        self._buckets.pop(key, None)


LOGGED_NAME_CHARS = 64


def loggable(name: str) -> str:
    """A client-chosen name, fit for a log line: escaped, and cut to ``LOGGED_NAME_CHARS`` with its length."""
    if len(name) <= LOGGED_NAME_CHARS:
        return ascii(name)
    return f"{ascii(name[:LOGGED_NAME_CHARS])}… ({len(name)} characters)"
