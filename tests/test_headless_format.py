"""Headless --format json and pretty, on a pipe and on a terminal (a pty)."""

from __future__ import annotations

import errno
import json
import os
import pty
import re
import subprocess
import time

from tests.conftest import cli_command, cli_env
from tui.demo import data
from tui.events import EventLine
from tui.output import LineWriter, event_text, heartbeat_text

ACCOUNT = next(a["id"] for a in data.ACCOUNTS if a["name"] == "Acme Robotics")
SCRIPT = "search-proxy"
RUN = [
    "--demo",
    "--headless",
    "--events",
    "--count",
    "2",
    "--interval",
    "1",
    "--account",
    ACCOUNT,
    SCRIPT,
]
ANSI = re.compile(r"\x1b\[[0-9;]*m")
STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
PRETTY_HEARTBEAT = re.compile(
    rf"^{STAMP}  heartbeat  ok  HTTP 200  \d+ ms  heartbeat accepted$"
)
PRETTY_EVENT = re.compile(rf"^{STAMP}  (debug|log|info|warn|error) +  \S.*$")


def run_piped(home, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        cli_command(*args),
        env=cli_env(home, **env),
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )


def run_in_pty(home, *args: str, **env: str) -> tuple[int, str]:
    """Run the app with stdout on a pseudo-terminal; return status and output."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        cli_command(*args),
        env=cli_env(home, TERM="xterm-256color", **env),
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=subprocess.DEVNULL,
    )
    os.close(terminal)
    chunks = []
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            try:
                chunk = os.read(controller, 65536)
            except OSError as exc:
                # Linux reports EIO once the child closed its side.
                if exc.errno != errno.EIO:
                    raise
                break
            if not chunk:
                break
            chunks.append(chunk)
        status = process.wait(timeout=10)
    finally:
        os.close(controller)
        if process.poll() is None:
            process.kill()
    # The terminal turns "\n" into "\r\n".
    return status, b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


def kinds(lines: list[dict]) -> list[str]:
    return [line["kind"] for line in lines]


def check_json_lines(text: str) -> None:
    lines = [json.loads(line) for line in text.splitlines()]
    assert kinds(lines).count("heartbeat") == 2
    assert "event" in kinds(lines)
    for line in lines:
        assert line["kind"] in ("heartbeat", "event")


def check_pretty_lines(text: str) -> None:
    lines = text.splitlines()
    heartbeats = [line for line in lines if PRETTY_HEARTBEAT.match(line)]
    events = [line for line in lines if PRETTY_EVENT.match(line)]
    assert len(heartbeats) == 2
    assert len(events) >= 1
    assert len(heartbeats) + len(events) == len(lines), lines


def test_pipe_defaults_to_json(isolated_dirs):
    result = run_piped(isolated_dirs, *RUN)
    assert result.returncode == 0, result.stderr
    check_json_lines(result.stdout)


def test_pipe_pretty_has_no_colours(isolated_dirs):
    # A rate of 1 keeps every event, so the run has events to show, and
    # still reports the sampling on stderr.
    result = run_piped(
        isolated_dirs, *RUN, "--format", "pretty", "--sampling-rate", "1"
    )
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout
    check_pretty_lines(result.stdout)
    assert "client-side filters: sampling 100% of events" in result.stderr
    assert re.search(
        r"client-side filters \(.*\) kept \d+ of \d+ events", result.stderr
    )


def test_terminal_defaults_to_pretty_in_colour(isolated_dirs):
    status, output = run_in_pty(isolated_dirs, *RUN)
    assert status == 0, output
    assert "\x1b[1;32mheartbeat" in output
    check_pretty_lines(ANSI.sub("", output))


def test_terminal_no_color(isolated_dirs):
    status, output = run_in_pty(isolated_dirs, *RUN, NO_COLOR="1")
    assert status == 0, output
    assert "\x1b" not in output
    check_pretty_lines(output)


def test_terminal_json_when_asked(isolated_dirs):
    status, output = run_in_pty(isolated_dirs, *RUN, "--format", "json")
    assert status == 0, output
    assert "\x1b" not in output
    check_json_lines(output)


def test_list_accounts_pretty(isolated_dirs):
    result = run_piped(isolated_dirs, "--demo", "--list-accounts", "--format", "pretty")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(data.ACCOUNTS)
    assert f"{ACCOUNT}  Acme Robotics" in lines


def test_list_accounts_with_headless(isolated_dirs):
    result = run_piped(isolated_dirs, "--demo", "--headless", "--list-accounts")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(data.ACCOUNTS)
    assert json.loads(lines[0])["id"] == data.ACCOUNTS[0]["id"]


# -- the line formats themselves ----------------------------------------------

BEAT = {
    "time": "2026-12-04T15:58:49.528Z",
    "ok": False,
    "http_status": 503,
    "latency_ms": 51.4,
    "outcome": "server_error",
    "message": "HTTP 503\nretrying",
}


def test_heartbeat_text_plain():
    text = heartbeat_text(BEAT)
    assert text.endswith(
        "  heartbeat  server_error  HTTP 503  51 ms  HTTP 503 ⏎ retrying"
    )


def test_heartbeat_text_coloured_red_on_failure():
    assert "\x1b[1;31mserver_error\x1b[0m" in heartbeat_text(BEAT, color=True)


def test_event_text_colours_level():
    line = EventLine(1.0, "warn", None, "slow upstream", None, {})
    assert "\x1b[33mwarn     \x1b[0m  slow upstream" in event_text(line, color=True)
    assert "\x1b" not in event_text(line)


def test_json_writer_marks_events(capsys):
    line = EventLine(1.0, "log", None, "hello", "r1", {"a": 1})
    LineWriter("json").event(line)
    record = json.loads(capsys.readouterr().out)
    assert record["kind"] == "event"
    assert record["request_id"] == "r1"
    assert record["raw"] == {"a": 1}


def test_json_writer_never_colours(capsys):
    LineWriter("json", color=True).heartbeat(BEAT)
    assert "\x1b" not in capsys.readouterr().out
