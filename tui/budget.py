"""The request budget shared by every session on one credential.

Cloudflare allows 1,200 API requests per 5 minutes per user or token; past
that every call gets HTTP 429 for up to 5 minutes. The app counts its own
requests in a sliding window and makes a request wait rather than pass the
limit, and it warns before a new session or a shorter interval would plan
more than WARN_SHARE of the limit.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable, Iterable

LIMIT = 1200
WINDOW = 300.0
WARN_SHARE = 0.8


def planned_requests(intervals: Iterable[float]) -> float:
    """Return the heartbeats per window that sessions at these intervals send."""
    return sum(WINDOW / interval for interval in intervals)


class RequestBudget:
    """A sliding-window counter of requests; ``acquire`` waits when it is full."""

    def __init__(
        self,
        limit: int = LIMIT,
        window: float = WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sent: collections.deque[float] = collections.deque()
        self._lock = asyncio.Lock()

    def _expire(self, now: float) -> None:
        while self._sent and self._sent[0] <= now - self.window:
            self._sent.popleft()

    def used(self) -> int:
        """Requests sent in the last window."""
        self._expire(self._clock())
        return len(self._sent)

    def wait_time(self) -> float:
        """Seconds until a request may go out (0 when there is room)."""
        now = self._clock()
        self._expire(now)
        if len(self._sent) < self.limit:
            return 0.0
        return self._sent[0] + self.window - now

    async def acquire(self) -> None:
        """Wait until sending one more request stays within the limit."""
        async with self._lock:
            while (delay := self.wait_time()) > 0:
                await asyncio.sleep(delay)
            self._sent.append(self._clock())

    def check_plan(self, intervals: Iterable[float]) -> tuple[str, float]:
        """Judge a set of session intervals against the limit.

        Returns ("ok" | "warn" | "over", planned requests per window).
        """
        planned = planned_requests(intervals)
        if planned > self.limit:
            return "over", planned
        if planned > self.limit * WARN_SHARE:
            return "warn", planned
        return "ok", planned
