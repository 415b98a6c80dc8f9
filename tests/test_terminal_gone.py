"""The app ends when its terminal goes away, as when an SSH connection drops.

The app runs on a pseudo-terminal that is its controlling terminal. Closing
the other end makes the kernel send SIGHUP, and from then on every write to
the terminal fails, which is what happens when sshd or tmux goes away.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import subprocess
import termios
import time
from pathlib import Path

from tests.conftest import cli_command, cli_env
from tests.test_sessions import script_of
from tui.app import QUIT_GRACE
from tui.demo import data

ACCOUNT = data.ACCOUNTS[0]


def _take_terminal() -> None:
    # In the child: start a session whose controlling terminal is stdin.
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _read_until(fd: int, marker: bytes, timeout: float) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            seen += os.read(fd, 65536)
    return seen


def test_app_exits_when_its_terminal_closes(tmp_path: Path) -> None:
    script = script_of(ACCOUNT)
    command = cli_command("--demo", "--account", ACCOUNT["id"], "--script", script)
    env = cli_env(tmp_path, TERM="xterm-256color")
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, b"\x18\x00\x50\x00\x00\x00\x00\x00")
    process = subprocess.Popen(
        command,
        stdin=child,
        stdout=child,
        stderr=child,
        env=env,
        preexec_fn=_take_terminal,
    )
    os.close(child)
    try:
        # The session screen shows the script once its session runs.
        output = _read_until(main, script.encode(), timeout=15)
        assert script.encode() in output
        time.sleep(1.0)

        os.close(main)
        closed_at = time.monotonic()
        code = process.wait(timeout=QUIT_GRACE + 5)
        took = time.monotonic() - closed_at
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert code == 0
    assert took < QUIT_GRACE + 2
    log = tmp_path / ".local" / "state" / "cf-livetail" / "log" / "cf-livetail.log"
    assert "received SIGHUP" in log.read_text()
