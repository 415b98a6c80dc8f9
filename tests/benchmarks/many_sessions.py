"""Many sessions: CPU of the TUI with 50 sessions at 1 s, and key-to-repaint time.

many_sessions_app.py runs in an 80x24 pseudo-terminal against a demo API
server in this process, which streams no live-tail events (see
common.QUIET_EVENT_RATE), so the figures cover the heartbeat sessions alone.
When the sessions pane shows them all, the benchmark first reads the app's
CPU time over a window with no keys pressed. Then it presses `p` (pause or
resume the selected session) every KEY_SPACING seconds and times each press
from the write to the pty until the chunk of output that carries the toast
the key raises ("Paused …" or "Resumed …") has arrived. Each toast lasts
3 s and the same word comes back only every 2 x KEY_SPACING seconds, so an
old toast that is repainted cannot be mistaken for a new one.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from tests.benchmarks import procstat
from tests.benchmarks.common import (
    COLUMNS,
    PYTHON,
    ROWS,
    app_env,
    app_log_tail,
    start_demo_server,
)
from tests.benchmarks.ptyapp import PtyApp

SESSIONS = 50
INTERVAL = 1.0
KEY_SPACING = 2.0
START_TIMEOUT = 60.0
REPAINT_TIMEOUT = 5.0


def _percentile(values: list[float], share: float) -> float:
    """Return the nearest-rank percentile ``share`` (0 to 1) of ``values``."""
    ordered = sorted(values)
    rank = max(1, round(share * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def many_sessions_round(
    window: float, presses: int, sessions: int = SESSIONS
) -> dict[str, float]:
    """Measure one run; return CPU share and key-to-repaint figures."""
    server = start_demo_server()
    try:
        with tempfile.TemporaryDirectory(prefix="cf-bench-") as home:
            argv = [PYTHON, "-m", "tests.benchmarks.many_sessions_app"]
            argv += ["--base-url", server.base_url, "--sessions", str(sessions)]
            argv += ["--interval", f"{INTERVAL:g}"]
            app = PtyApp(
                argv,
                env=app_env(Path(home)),
                cwd=str(Path(__file__).resolve().parents[2]),
                columns=COLUMNS,
                rows=ROWS,
            )
            try:
                with app:
                    latencies, cpu_share = _measure(app, sessions, window, presses)
            except (EOFError, TimeoutError) as exc:
                log = app_log_tail(Path(home))
                raise RuntimeError(f"{exc}\napp log:\n{log}") from exc
    finally:
        server.stop()
    return {
        "cpu_pct": cpu_share * 100,
        "key_p95_ms": _percentile(latencies, 0.95),
        "key_median_ms": _percentile(latencies, 0.5),
    }


def _measure(
    app: PtyApp, sessions: int, window: float, presses: int
) -> tuple[list[float], float]:
    """Return the key-to-repaint times (ms) and the CPU share over ``window``."""
    app.expect(rb"Sessions \(%d\)" % sessions, START_TIMEOUT)
    # Let every session prepare its tail and settle into its slot.
    time.sleep(3.0)
    cpu_before = procstat.cpu_seconds(app.pid)
    started = time.monotonic()
    time.sleep(window)
    elapsed = time.monotonic() - started
    cpu_share = (procstat.cpu_seconds(app.pid) - cpu_before) / elapsed

    latencies = []
    for number in range(presses):
        word = b"Paused" if number % 2 == 0 else b"Resumed"
        since = app.bytes_read
        pressed = app.press(b"p")
        shown = app.expect(word, REPAINT_TIMEOUT, since=since)
        latencies.append((shown - pressed) * 1000)
        time.sleep(max(0.0, pressed + KEY_SPACING - time.monotonic()))
    return latencies, cpu_share
