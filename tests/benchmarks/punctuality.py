"""Punctuality: how late each heartbeat leaves against the time it was due.

Run as a child process (``python -m tests.benchmarks.punctuality``), it
drives tui.engine.HeartbeatSession in-process against a loopback API server
that the parent runs, and prints one JSON object of figures.

check_interval() rejects intervals under 1 s, so the session is built with
1 s and its ``interval`` attribute is then set to the benchmark's interval
(50 ms). The engine reads that attribute for every later slot.

Each send is timed by wrapping the client's ``heartbeat`` method: the
wrapper stores time.monotonic() and the session's ``next_due`` (the slot
time the scheduler waited for) just before the request starts. Lateness is
the difference. Drift is the least-squares slope of lateness over the run,
times the run's length: with no cumulative drift it stays near zero
however late single beats are.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tui.api import CloudflareClient
from tui.credentials import Credential
from tui.engine import HeartbeatSession


def drift_ms(lateness_ms: list[float]) -> float:
    """Return the least-squares slope of lateness times (beats - 1), in ms."""
    count = len(lateness_ms)
    if count < 2:
        return 0.0
    mean_x = (count - 1) / 2
    mean_y = statistics.fmean(lateness_ms)
    covariance = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(lateness_ms))
    variance = sum((x - mean_x) ** 2 for x in range(count))
    return covariance / variance * (count - 1)


async def run(
    base_url: str, token: str, account: str, script: str, beats: int, interval: float
) -> dict[str, float]:
    from tui.history import HistoryStore

    sends: list[tuple[float, float]] = []
    done = asyncio.Event()
    with tempfile.TemporaryDirectory(prefix="cf-bench-") as tmp:
        store = HistoryStore(Path(tmp) / "history.db")
        client = CloudflareClient(base_url, Credential.api_token(token, "benchmark"))
        session = HeartbeatSession(
            client,
            account,
            account,
            script,
            1.0,
            store=store,
            on_beat=lambda _beat: session.beats_sent >= beats and done.set(),
        )
        # Below the 1 s minimum that check_interval() enforces; see the docstring.
        session.interval = interval
        send_heartbeat = client.heartbeat

        async def timed_heartbeat(*args, **kwargs):
            due = session.next_due
            sends.append((time.monotonic(), due if due is not None else 0.0))
            return await send_heartbeat(*args, **kwargs)

        client.heartbeat = timed_heartbeat  # type: ignore[method-assign]
        session.start()
        try:
            async with asyncio.timeout(30 + beats * interval * 3):
                await done.wait()
        finally:
            await session.stop()
            store.close()

    # The first beat goes out when the tail is prepared, not on a slot.
    scheduled = sends[1:]
    lateness = [(sent - due) * 1000 for sent, due in scheduled]
    span = scheduled[-1][1] - scheduled[0][1]
    skipped = round(span / interval) - (len(scheduled) - 1)
    return {
        "beats": len(sends),
        "mean_ms": statistics.fmean(lateness),
        "p99_ms": statistics.quantiles(lateness, n=100)[98],
        "max_ms": max(lateness),
        "drift_ms": drift_ms(lateness),
        "skipped_slots": skipped,
        "elapsed_s": scheduled[-1][0] - scheduled[0][0],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description="Time one run of heartbeats.")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--account", required=True)
    parser.add_argument("--script", required=True)
    parser.add_argument("--beats", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=0.05)
    args = parser.parse_args()
    if args.beats < 3:
        parser.error("--beats must be 3 or more")
    figures = asyncio.run(
        run(
            args.base_url,
            args.token,
            args.account,
            args.script,
            args.beats,
            args.interval,
        )
    )
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
