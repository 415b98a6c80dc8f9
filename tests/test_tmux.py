"""Run the real app inside tmux and send every binding, as a user would."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, cli_env
from tui.demo import data

ACCOUNT = data.ACCOUNTS[0]
SCRIPT = data.SCRIPTS_BY_ACCOUNT_ID[ACCOUNT["id"]][0]["id"]


class Tmux:
    """One tmux server with its own socket, holding one pane."""

    def __init__(self, socket: Path):
        self.socket = str(socket)

    def run(self, *args: str) -> str:
        result = subprocess.run(
            ["tmux", "-S", self.socket, *args],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return result.stdout

    def keys(self, *keys: str) -> None:
        # One key a call, as a person types: several keys in one write can
        # arrive as a single chunk, which is not what this test is about.
        for key in keys:
            self.run("send-keys", "-t", "app", key)
            # A key soon after Escape would arrive as Alt+key, as in any
            # terminal, so leave a person's pause after it.
            time.sleep(0.4 if key == "Escape" else 0.05)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "app")

    def wait_for(self, text: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        shown = ""
        while time.monotonic() < deadline:
            shown = self.screen()
            if text in shown:
                return shown
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; the screen was:\n{shown}")


@pytest.fixture
def tmux(tmp_path: Path, isolated_dirs: Path):
    assert shutil.which("tmux"), "tmux is needed for this test: apt-get install tmux"
    server = Tmux(tmp_path / "tmux.sock")
    env = cli_env(isolated_dirs, TERM="xterm-256color")
    command = " ".join(
        shlex.quote(part)
        for part in [
            sys.executable,
            "-m",
            "tui",
            "--demo",
            "--account",
            ACCOUNT["id"],
            "--script",
            SCRIPT,
            "--interval",
            "2",
        ]
    )
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    shell = (
        f"cd {shlex.quote(str(REPO))} && env {exports} {command}; "
        "echo EXIT=$?; sleep 30"
    )
    server.run("new-session", "-d", "-s", "app", "-x", "80", "-y", "24", shell)
    yield server
    server.run("kill-server")


def test_every_binding_in_tmux(tmux: Tmux):
    tmux.wait_for("alive")
    tmux.keys("b")
    tmux.wait_for("Sending a heartbeat")
    tmux.keys("p")
    tmux.wait_for("paused")
    tmux.keys("p")
    tmux.wait_for("Resumed")
    tmux.keys("i")
    tmux.wait_for("Seconds between heartbeats")
    tmux.keys("BSpace", "BSpace", "BSpace", "7", "Enter")
    # 300 s / 7 s: the sessions pane's plan. The status line "every 7 s" can
    # sit under a toast at 80x24, but the pane's border never does.
    tmux.wait_for("plan 43")
    tmux.keys("r")
    tmux.wait_for("not failing")
    tmux.keys("f")
    tmux.wait_for("failures only")
    tmux.keys("f")
    tmux.keys("n")
    tmux.keys("t")
    tmux.keys("t")
    tmux.keys("g")
    tmux.wait_for("bell on failures: on")
    tmux.keys("g")
    tmux.wait_for("bell on failures: off")
    tmux.keys("e")
    tmux.wait_for("Export the history")
    tmux.keys("Escape")
    tmux.keys("F1")
    tmux.wait_for("send a heartbeat now")
    tmux.keys("Escape")
    tmux.keys("a")
    tmux.wait_for("Choose an account")
    tmux.keys("Escape")
    tmux.wait_for("Sessions (1)")
    tmux.keys("Tab")
    tmux.keys("x")
    tmux.wait_for("No session open")
    tmux.keys("Escape")
    tmux.wait_for("Choose an account")
    # Enter only once the list has loaded, as a person waits to see it.
    tmux.wait_for(f"{len(data.ACCOUNTS)} accounts")
    tmux.keys("Enter")
    tmux.wait_for("Choose a Worker")
    tmux.wait_for(" Workers.")
    tmux.keys("Enter")
    tmux.wait_for("alive")
    tmux.keys("C-p")
    tmux.wait_for("Beat now")
    tmux.keys("Escape")
    tmux.keys("q")
    screen = tmux.wait_for("EXIT=")
    assert "EXIT=0" in screen
    assert "Traceback" not in screen


def test_ctrl_c_quits_and_restores_terminal(tmux: Tmux):
    tmux.wait_for("alive")
    tmux.keys("C-c")
    screen = tmux.wait_for("EXIT=")
    assert "EXIT=0" in screen
    # The alternate screen is gone: the shell's own output is visible again.
    assert "Sessions" not in screen
