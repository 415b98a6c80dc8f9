"""Uptime figures and recent latencies of a session, kept up to date per beat."""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

from tui.history import Beat, HistoryStore

RECENT = 60


@dataclass
class SessionStats:
    """Share of successful beats, longest outage, and recent latencies.

    An outage runs from the first failed beat after a success to the next
    successful beat (or to now, while it lasts).
    """

    total: int = 0
    ok: int = 0
    longest_outage_s: float = 0.0
    outage_start: float | None = None
    latencies: collections.deque[float] = field(
        default_factory=lambda: collections.deque(maxlen=RECENT)
    )

    @classmethod
    def from_store(cls, store: HistoryStore, session_id: int) -> SessionStats:
        stats = cls()
        for when, ok, latency in store.outcome_rows(session_id):
            stats._add(when, bool(ok), latency)
        return stats

    def add(self, beat: Beat) -> None:
        self._add(beat.time, beat.ok, beat.latency_ms)

    def _add(self, when: float, ok: bool, latency_ms: float) -> None:
        self.total += 1
        if ok:
            self.ok += 1
            self.latencies.append(latency_ms)
            if self.outage_start is not None:
                outage = when - self.outage_start
                self.longest_outage_s = max(self.longest_outage_s, outage)
                self.outage_start = None
        elif self.outage_start is None:
            self.outage_start = when

    @property
    def uptime_share(self) -> float | None:
        return None if self.total == 0 else self.ok / self.total

    def longest_outage(self, now: float) -> float:
        """Return the maximum outage so far, counting one still going on at ``now``."""
        if self.outage_start is None:
            return self.longest_outage_s
        return max(self.longest_outage_s, now - self.outage_start)
