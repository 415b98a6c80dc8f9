"""The real process in headless mode: output, exit codes, signals, recovery."""

from __future__ import annotations

import itertools
import json
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import cli_command, cli_env
from tests.faultserver import FaultServer, Reply
from tui.demo import data
from tui.demo.server import DEMO_TOKEN

ACCOUNT = data.ACCOUNTS[0]["id"]
SCRIPT = data.SCRIPTS_BY_ACCOUNT_ID[ACCOUNT][0]["id"]
REQUIRED_KEYS = {
    "time": str,
    "account_id": str,
    "script": str,
    "ok": bool,
    "outcome": str,
    "message": str,
}


def run_cli(home: Path, *args: str, timeout: float = 30, **env: str):
    return subprocess.run(
        cli_command(*args),
        env=cli_env(home, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def start_cli(home: Path, *args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        cli_command(*args),
        env=cli_env(home, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def read_lines(process: subprocess.Popen, count: int, timeout: float = 10) -> list:
    """Read ``count`` JSON lines from a running process's stdout."""
    lines = []
    deadline = time.monotonic() + timeout
    while len(lines) < count and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(json.loads(line))
    return lines


def beat_args(server, *extra: str) -> list[str]:
    return [
        "--headless",
        "--base-url",
        server.base_url,
        "--account",
        ACCOUNT,
        "--script",
        SCRIPT,
        *extra,
    ]


def test_count_prints_json_lines(demo, isolated_dirs):
    result = run_cli(
        isolated_dirs,
        *beat_args(demo, "--interval", "1", "--count", "3"),
        CLOUDFLARE_API_TOKEN=DEMO_TOKEN,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 3
    for line in lines:
        for key, kind in REQUIRED_KEYS.items():
            assert isinstance(line[key], kind), key
        assert isinstance(line["http_status"], int)
        assert isinstance(line["latency_ms"], int | float)
        assert line["outcome"] == "ok"
        assert line["ok"] is True
        assert line["account_id"] == ACCOUNT
        assert line["script"] == SCRIPT
        assert line["time"].endswith("Z")
    assert DEMO_TOKEN not in result.stdout + result.stderr


def test_beats_are_one_interval_apart(isolated_dirs):
    with FaultServer().start() as server:
        server.set_default(Reply(delay=0.2))
        result = run_cli(
            isolated_dirs,
            *beat_args(server, "--interval", "1", "--count", "3"),
            CLOUDFLARE_API_TOKEN="test-token",
        )
        beats = [r for r in server.requests if r.path.endswith("/heartbeat")]
    assert result.returncode == 0, result.stderr
    assert len(beats) == 3
    # Each reply takes 0.2 s, which must not push later beats back.
    gaps = [b.arrived_at - a.arrived_at for a, b in itertools.pairwise(beats)]
    for gap in gaps:
        assert 0.9 <= gap <= 1.1


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signal_stops_within_two_seconds(demo, isolated_dirs, signum):
    process = start_cli(
        isolated_dirs,
        *beat_args(demo, "--interval", "1"),
        CLOUDFLARE_API_TOKEN=DEMO_TOKEN,
    )
    try:
        assert len(read_lines(process, 1)) == 1
        sent = time.monotonic()
        process.send_signal(signum)
        code = process.wait(timeout=5)
        elapsed = time.monotonic() - sent
    finally:
        process.kill()
    assert code == 0
    assert elapsed < 2.0


def test_signal_during_slow_request_exits_fast(isolated_dirs):
    with FaultServer().start() as server:
        process = start_cli(
            isolated_dirs,
            *beat_args(server, "--interval", "30"),
            CLOUDFLARE_API_TOKEN="test-token",
        )
        try:
            server.enqueue(Reply(delay=20), path_contains="/heartbeat")
            # verify, prepare, then the heartbeat that hangs
            assert server.wait_for_requests(3, timeout=10)
            sent = time.monotonic()
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=5)
            elapsed = time.monotonic() - sent
        finally:
            process.kill()
    assert code == 0
    assert elapsed < 2.0


def test_sigkill_loses_at_most_the_beat_in_flight(demo, isolated_dirs):
    process = start_cli(
        isolated_dirs,
        *beat_args(demo, "--interval", "1"),
        CLOUDFLARE_API_TOKEN=DEMO_TOKEN,
    )
    try:
        printed = read_lines(process, 3)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=5)
    finally:
        process.kill()
    assert len(printed) == 3
    database = isolated_dirs / ".local" / "share" / "cf-livetail" / "history.db"
    with sqlite3.connect(database) as db:
        stored = db.execute("SELECT COUNT(*) FROM beats").fetchone()[0]
    assert stored >= 3
    result = run_cli(
        isolated_dirs,
        *beat_args(demo, "--interval", "1", "--count", "1"),
        CLOUDFLARE_API_TOKEN=DEMO_TOKEN,
    )
    assert result.returncode == 0, result.stderr
    assert "unreadable" not in result.stderr
    with sqlite3.connect(database) as db:
        after = db.execute("SELECT COUNT(*) FROM beats").fetchone()[0]
    assert after == stored + 1


def test_suspend_resume_one_beat_with_gap(demo, isolated_dirs):
    process = start_cli(
        isolated_dirs,
        *beat_args(demo, "--interval", "1"),
        CLOUDFLARE_API_TOKEN=DEMO_TOKEN,
    )

    def heartbeats() -> int:
        return len([r for r in demo.requests if r.path.endswith("/heartbeat")])

    try:
        assert len(read_lines(process, 2)) == 2
        process.send_signal(signal.SIGSTOP)
        time.sleep(3.5)
        before = heartbeats()
        process.send_signal(signal.SIGCONT)
        time.sleep(0.6)
        after = heartbeats()
        # A beat in flight when the process stopped is printed first; the
        # gap shows on the first beat sent after the suspension.
        resumed = read_lines(process, 2, timeout=3)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=5)
    finally:
        process.kill()
    assert after - before == 1
    gaps = [line["gap_s"] for line in resumed if "gap_s" in line]
    assert len(gaps) == 1
    assert gaps[0] >= 2


def test_fatal_outcome_prints_line_and_exits_non_zero(demo, isolated_dirs):
    result = run_cli(
        isolated_dirs,
        "--headless",
        "--base-url",
        demo.base_url,
        "--account",
        ACCOUNT,
        "--script",
        "no-such-worker",
        CLOUDFLARE_API_TOKEN=DEMO_TOKEN,
    )
    assert result.returncode == 3
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 1
    assert lines[0]["outcome"] == "not_found"
    assert "no-such-worker" in lines[0]["message"]
    assert ACCOUNT in lines[0]["message"]


def test_prepare_failures_are_reported_on_stderr(isolated_dirs):
    with FaultServer().start() as server:
        # Prepare calls come before any heartbeat, so they get these first.
        server.enqueue(
            Reply(503, body="upstream down", content_type="text/plain"),
            path_contains="/live-tail",
        )
        server.enqueue(Reply.rate_limited("0"), path_contains="/live-tail")
        result = run_cli(
            isolated_dirs,
            *beat_args(server, "--interval", "1", "--count", "1"),
            CLOUDFLARE_API_TOKEN="test-token",
        )
        prepares = [r for r in server.requests if r.path.endswith("/live-tail")]
    assert result.returncode == 0, result.stderr
    assert len(prepares) == 3
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["outcome"] for line in lines] == ["ok"]
    notes = result.stderr.splitlines()
    failures = [note for note in notes if "preparing the live tail failed" in note]
    assert len(failures) == 2
    assert failures[0].startswith(
        "cf-livetail: preparing the live tail failed (attempt 1): HTTP 503"
    )
    assert failures[1].startswith(
        "cf-livetail: preparing the live tail failed (attempt 2): HTTP 429"
    )
    for failure in failures:
        assert re.search(r"; retrying in [0-9]+\.[0-9] s$", failure), failure
    assert "cf-livetail: live tail prepared after 2 failed attempts" in notes


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (
            ["--headless", "--account", ACCOUNT, "--script", SCRIPT],
            {},
            "CLOUDFLARE_API_TOKEN",
        ),
        (["--interval", "0.5", "--headless"], {}, "interval"),
        (["--bogus"], {}, "unrecognized arguments"),
        (["--count", "0"], {}, "invalid count"),
        (["--account", "../x", "--list-scripts"], {}, "invalid account id"),
    ],
)
def test_start_up_errors_are_one_line(isolated_dirs, args, env, expected):
    result = run_cli(isolated_dirs, *args, **env)
    assert result.returncode != 0
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_token_names_its_source(demo, isolated_dirs):
    result = run_cli(
        isolated_dirs,
        *beat_args(demo, "--count", "1"),
        CLOUDFLARE_API_TOKEN="wrong-token-value",
    )
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1
    assert "CLOUDFLARE_API_TOKEN" in result.stderr
    assert "wrong-token-value" not in result.stderr


def test_no_terminal_points_to_headless(isolated_dirs):
    result = run_cli(isolated_dirs, "--demo")
    assert result.returncode != 0
    assert "--headless" in result.stderr
    assert "\x1b" not in result.stderr + result.stdout


def test_corrupt_database_is_moved_aside(demo, isolated_dirs):
    data_dir = isolated_dirs / ".local" / "share" / "cf-livetail"
    data_dir.mkdir(parents=True)
    (data_dir / "history.db").write_bytes(b"this is not a database" * 100)
    result = run_cli(
        isolated_dirs,
        *beat_args(demo, "--interval", "1", "--count", "1"),
        CLOUDFLARE_API_TOKEN=DEMO_TOKEN,
    )
    assert result.returncode == 0, result.stderr
    assert "moved it to" in result.stderr
    assert list(data_dir.glob("history.db.corrupt-*"))


def test_corrupt_settings_are_moved_aside(demo, isolated_dirs):
    config_dir = isolated_dirs / ".config" / "cf-livetail"
    config_dir.mkdir(parents=True)
    (config_dir / "settings.toml").write_text("interval = = 3\n")
    result = run_cli(
        isolated_dirs,
        *beat_args(demo, "--interval", "1", "--count", "1"),
        CLOUDFLARE_API_TOKEN=DEMO_TOKEN,
    )
    assert result.returncode == 0, result.stderr
    assert "not valid TOML" in result.stderr
    assert list(config_dir.glob("settings.toml.bad-*"))


def test_headless_does_not_import_textual(demo, isolated_dirs):
    code = (
        "import sys, runpy\n"
        "sys.argv = ['cf-livetail'] + sys.argv[1:]\n"
        "from tui.cli import main\n"
        "rc = main(sys.argv[1:])\n"
        "assert 'textual' not in sys.modules, 'textual was imported'\n"
        "sys.exit(rc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, *beat_args(demo, "--count", "1")],
        env=cli_env(isolated_dirs, CLOUDFLARE_API_TOKEN=DEMO_TOKEN),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
