"""Long history: open the history pane on 100,000 beats and page down.

``build_history`` fills a database through the public HistoryStore API once
per suite run. Each measured run is a child process
(``python -m tests.benchmarks.history_pane``) so that its memory starts
clean. The child mounts tui.widgets.history.HistoryTable in an otherwise
empty App under ``App.run_test`` (headless, 80x24) and prints one JSON
object of figures.

A key is posted to the App as the terminal driver would post it. Then
``Pilot.pause(0)`` lets the screen process its messages and runs the
compositor update that a terminal frame needs. It runs twice, so that
messages posted while the first round was handled are handled too.
Headless, Textual skips only turning that update into escape codes and
writing them. ``Pilot.press`` is not used for timing because it sleeps at
least 2 x 20 ms per key while it waits for the process to go idle
(Textual 8.2).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import statistics
import sys
import time
from pathlib import Path

from tests.benchmarks import procstat
from tui.history import Beat, HistoryStore

SIZE = (80, 24)


def build_history(path: Path, beats: int) -> int:
    """Store ``beats`` beats of one session in a new database; return its id.

    One beat in 50 is a timeout, so the pane shows both row styles.
    """
    store = HistoryStore(path)
    try:
        session_id = store.start_session("0" * 32, "Benchmark", "history-bench")
        has_seq = any(field.name == "seq" for field in dataclasses.fields(Beat))
        start = time.time() - beats * 30.0
        for number in range(1, beats + 1):
            failed = number % 50 == 0
            beat = Beat(
                session_id=session_id,
                time=start + number * 30.0,
                ok=not failed,
                http_status=None if failed else 200,
                latency_ms=10_000.0 if failed else 40.0 + number % 17,
                outcome="timeout" if failed else "ok",
                message="no complete reply within 10 s"
                if failed
                else "heartbeat accepted",
                ray=None if failed else f"{number:016x}-LHR",
            )
            if has_seq:
                beat.seq = number
            store.add_beat(beat)
    finally:
        store.close()
    return session_id


async def measure(db: Path, session_id: int, pages: int) -> dict[str, float]:
    from textual import events
    from textual.app import App

    from tui.widgets.history import HistoryTable

    store = HistoryStore(db)
    app: App[None] = App()
    page_ms: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0)
        gc.collect()
        rss_before = procstat.self_rss_mib()

        started = time.perf_counter()
        table = HistoryTable(store, session_id)
        await app.mount(table)
        table.focus()
        await _settle(pilot)
        open_ms = (time.perf_counter() - started) * 1000
        if table.row_count == 0:
            raise RuntimeError("the history pane opened with no rows")

        rows_paged = 0
        for _ in range(pages):
            row_before = _position(table)
            started = time.perf_counter()
            app.post_message(events.Key("pagedown", None))
            await _settle(pilot)
            page_ms.append((time.perf_counter() - started) * 1000)
            rows_paged += _position(table) - row_before
        gc.collect()
        rss_after = procstat.self_rss_mib()
    store.close()
    return {
        "open_ms": open_ms,
        "page_median_ms": statistics.median(page_ms),
        "page_max_ms": max(page_ms),
        "rss_growth_mib": rss_after - rss_before,
        "rows_paged": rows_paged,
    }


async def _settle(pilot) -> None:
    """Process pending messages, and those they post, then update the screen."""
    await pilot.pause(0)
    await pilot.pause(0)


def _position(table) -> int:
    """Return how many beats back from the newest the cursor is."""
    beat = table.cursor_beat
    if beat is None or beat.seq is None:
        raise RuntimeError("the history pane has no numbered beat under its cursor")
    return table.total - beat.seq


def main() -> int:
    parser = argparse.ArgumentParser(description="Time the history pane once.")
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--session-id", type=int, required=True)
    parser.add_argument("--pages", type=int, default=300)
    args = parser.parse_args()
    figures = asyncio.run(measure(args.db, args.session_id, args.pages))
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
