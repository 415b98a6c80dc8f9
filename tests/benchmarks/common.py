"""Paths, environments and loopback servers shared by the benchmarks."""

from __future__ import annotations

import compileall
import os
import sys
from pathlib import Path

from tui.demo.data import ACCOUNTS, SCRIPTS_BY_ACCOUNT_ID
from tui.demo.server import DEMO_TOKEN, DemoServer

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
# The console script that `pip install -e .` puts next to the interpreter.
CF_LIVETAIL = str(Path(PYTHON).with_name("cf-livetail"))
COLUMNS, ROWS = 80, 24
# High enough that no benchmark run is ever rate limited by the demo API.
NO_RATE_LIMIT = (1_000_000, 300.0)
# Live-tail events per second that the demo API streams to each session: one
# group of events on connecting, then on average one every 11 days. It keeps
# the heartbeat figures free of the events pane's work, which
# bench_events.py measures on its own.
QUIET_EVENT_RATE = 1e-6


def demo_target() -> tuple[str, str]:
    """Return the (account id, Worker name) that every benchmark session uses."""
    account = next(a for a in ACCOUNTS if SCRIPTS_BY_ACCOUNT_ID[a["id"]])
    return account["id"], SCRIPTS_BY_ACCOUNT_ID[account["id"]][0]["id"]


def start_demo_server() -> DemoServer:
    """Start the demo API on loopback: no reply delay, no rate limit, no events."""
    return DemoServer(
        latency=(0, 0), rate_limit=NO_RATE_LIMIT, event_rate=QUIET_EVENT_RATE
    ).start()


def app_log_tail(home: Path, size: int = 3000) -> str:
    """Return the end of the app's log file under ``home``, for error messages."""
    log = home / "state" / "cf-livetail" / "log" / "cf-livetail.log"
    try:
        return log.read_text(errors="replace")[-size:]
    except OSError as exc:
        return f"(no log at {log}: {exc.strerror})"


def app_env(home: Path, token: str | None = DEMO_TOKEN) -> dict[str, str]:
    """Return an environment that keeps the app's files under ``home``.

    Variables that would change what the app does (Cloudflare settings,
    Textual's debug switches, a forced terminal size) are removed.
    """
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("CLOUDFLARE_", "TEXTUAL", "XDG_"))
        and name not in ("COLUMNS", "LINES", "NO_COLOR", "COLORTERM")
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_DATA_HOME=str(home / "data"),
        XDG_STATE_HOME=str(home / "state"),
        XDG_CACHE_HOME=str(home / "cache"),
        TERM="xterm-256color",
        LANG="C.UTF-8",
    )
    if token is not None:
        env["CLOUDFLARE_API_TOKEN"] = token
    return env


def compile_package() -> bool:
    """Write the bytecode of every module in tui/, and return whether all compiled.

    Python writes it on an app's first run, so every later start reads it.
    Where PYTHONDONTWRITEBYTECODE is set (as on the benchmark machine), an
    editable install never gets it, and each start would compile all of tui/
    from source again. The SDK's packages got theirs when pip installed them.
    """
    return bool(compileall.compile_dir(REPO / "tui", quiet=1))
