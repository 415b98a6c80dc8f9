"""Idle CPU, peak memory and terminal traffic of one open session.

One round starts three programs side by side, each with its own files:

- the TUI in an 80x24 pseudo-terminal, with `--account` and `--script` so
  that it goes straight to the session screen, heartbeat every 30 s;
- `cf-livetail --headless`, heartbeat every 30 s, stdout to a file;
- floor_app.py, a bare Textual app with one Static, in its own pseudo-terminal.

The two cf-livetail programs talk to two demo API servers in this process
(so the TUI does not also run a demo server in its own process, as
`--demo` would). Once both have sent their first heartbeat and a settling
time has passed, the round reads each program's CPU time and the bytes
written to each terminal. It waits the measuring window and reads them
again, and the peak RSS (VmHWM) of each process at the end.

NOTE: the three programs run at once to keep the suite short. All three are
idle almost all of the time, and the machine has two cores.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from tests.benchmarks import procstat
from tests.benchmarks.common import (
    CF_LIVETAIL,
    COLUMNS,
    PYTHON,
    ROWS,
    app_env,
    demo_target,
    start_demo_server,
)
from tests.benchmarks.floor_app import FLOOR_TEXT
from tests.benchmarks.ptyapp import PtyApp
from tests.benchmarks.startup import FLOOR_APP

INTERVAL = 30.0
HEARTBEAT_SUFFIX = "/live-tail/heartbeat"
START_TIMEOUT = 30.0


def _wait_for_heartbeat(server, what: str, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(r.path.endswith(HEARTBEAT_SUFFIX) for r in server.requests):
            return
        time.sleep(0.02)
    raise RuntimeError(f"{what} sent no heartbeat within {timeout:g} s")


def _session_argv(base_url: str) -> list[str]:
    account, script = demo_target()
    return [
        CF_LIVETAIL,
        "--account",
        account,
        "--script",
        script,
        "--interval",
        f"{INTERVAL:g}",
        "--base-url",
        base_url,
    ]


def idle_round(window: float, settle: float = 3.0) -> dict[str, float]:
    """Measure one window; return the figures of all three programs."""
    with ExitStack() as stack:
        homes = [
            Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cf-bench-")))
            for _ in range(3)
        ]
        tui_server = start_demo_server()
        stack.callback(tui_server.stop)
        headless_server = start_demo_server()
        stack.callback(headless_server.stop)

        tui = PtyApp(
            _session_argv(tui_server.base_url),
            env=app_env(homes[0]),
            cwd=str(homes[0]),
            columns=COLUMNS,
            rows=ROWS,
        )
        stack.enter_context(tui)
        out = stack.enter_context((homes[1] / "stdout").open("wb"))
        headless = subprocess.Popen(
            [*_session_argv(headless_server.base_url), "--headless"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=app_env(homes[1]),
            cwd=homes[1],
        )
        stack.callback(_end, headless)
        floor = PtyApp(
            [PYTHON, FLOOR_APP],
            env=app_env(homes[2], token=None),
            cwd=str(homes[2]),
            columns=COLUMNS,
            rows=ROWS,
        )
        stack.enter_context(floor)

        _wait_for_heartbeat(tui_server, "the TUI")
        _wait_for_heartbeat(headless_server, "cf-livetail --headless")
        floor.expect(FLOOR_TEXT.encode(), START_TIMEOUT)
        time.sleep(settle)

        pids = {"tui": tui.pid, "headless": headless.pid, "floor": floor.pid}
        cpu_before = {name: procstat.cpu_seconds(pid) for name, pid in pids.items()}
        bytes_before = {"tui": tui.bytes_read, "floor": floor.bytes_read}
        started = time.monotonic()
        time.sleep(window)
        elapsed = time.monotonic() - started
        cpu_after = {name: procstat.cpu_seconds(pid) for name, pid in pids.items()}
        bytes_after = {"tui": tui.bytes_read, "floor": floor.bytes_read}
        peaks = {
            name: procstat.memory_kib(pid)["VmHWM"] / 1024 for name, pid in pids.items()
        }
        for name, process in (("tui", tui.process), ("headless", headless)):
            assert process is not None
            if process.poll() is not None:
                raise RuntimeError(f"the {name} program exited during the window")

    figures: dict[str, float] = {}
    for name in pids:
        cpu = cpu_after[name] - cpu_before[name]
        figures[f"{name}_idle_cpu_pct"] = cpu / elapsed * 100
        figures[f"{name}_peak_rss_mib"] = peaks[name]
    for name in bytes_before:
        sent = bytes_after[name] - bytes_before[name]
        figures[f"{name}_traffic_kib_min"] = sent / 1024 / (elapsed / 60)
    return figures


def _end(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
