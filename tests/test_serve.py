"""The app runs under Textual's web driver, as `textual serve` starts it."""

from __future__ import annotations

import subprocess
import time

from tests.conftest import cli_command, cli_env


def test_app_starts_under_the_web_driver(isolated_dirs):
    env = cli_env(isolated_dirs, TEXTUAL_DRIVER="textual.drivers.web_driver:WebDriver")
    process = subprocess.Popen(
        cli_command("--demo"),
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        # The web driver announces itself, then sends framed terminal output.
        header = process.stdout.readline()
        time.sleep(0.5)
        still_running = process.poll() is None
    finally:
        process.kill()
        process.wait(timeout=5)
        stderr = process.stderr.read().decode()
    assert header.startswith(b"__GANGLION__")
    assert still_running, stderr
    assert "needs a terminal" not in stderr
