"""Shared fixtures: every test gets its own config, data and log dirs."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tui import logsetup
from tui.demo.server import DemoServer

REPO = Path(__file__).resolve().parent.parent

# Variables a developer may have set that would change what the app does.
CLOUDFLARE_VARIABLES = (
    "CLOUDFLARE_API_TOKEN",
    "CLOUDFLARE_API_KEY",
    "CLOUDFLARE_EMAIL",
    "CLOUDFLARE_ACCOUNT_ID",
    "CLOUDFLARE_BASE_URL",
    "CLOUDFLARE_API_BASE_URL",
)


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point platformdirs (through the XDG variables) and HOME at tmp dirs."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    for name in CLOUDFLARE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return home


@pytest.fixture
def demo() -> Iterator[DemoServer]:
    """The demo API on a loopback port, with no artificial latency."""
    with DemoServer(latency=(0.0, 0.0)) as server:
        yield server


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """Environment for running the app as a subprocess, isolated in ``home``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in CLOUDFLARE_VARIABLES and not key.startswith("XDG_")
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        XDG_CACHE_HOME=str(home / ".cache"),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "tui", *args]


@pytest.fixture
def fresh_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep secrets registered by in-process CLI runs out of other tests."""
    monkeypatch.setattr(logsetup, "_secrets", ())


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Remove the log handlers that an in-process ``main()`` adds to the root."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
