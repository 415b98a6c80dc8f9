"""Notifications of state changes, and their damping for a flapping session."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import tui.app as app_module
from tests.apphelpers import make_app
from tui.engine import State


def flapping_app(demo, monkeypatch: pytest.MonkeyPatch):
    app = make_app(demo)
    notices: list[tuple[str, str]] = []

    def record(message: str, severity: str = "information", **_: object) -> None:
        notices.append((severity, message))

    monkeypatch.setattr(app, "notify", record)
    session = SimpleNamespace(
        session_id=1,
        script="search-proxy",
        account_name="Acme",
        state=State.ALIVE,
        last_error="HTTP 503",
    )
    return app, session, notices


def change(app, session, to: State) -> None:
    previous, session.state = session.state, to
    app._notify_state(session, previous)


def test_flapping_session_is_announced_once_a_minute(demo, monkeypatch):
    app, session, notices = flapping_app(demo, monkeypatch)
    clock = [1000.0]
    monkeypatch.setattr(app_module.time, "monotonic", lambda: clock[0])

    for _ in range(3):
        change(app, session, State.RETRYING)
        change(app, session, State.ALIVE)
    assert notices == [("warning", "search-proxy (Acme) is retrying: HTTP 503")]

    clock[0] += app_module.FLAP_QUIET
    change(app, session, State.RETRYING)
    assert notices[-1] == (
        "warning",
        "search-proxy (Acme) is retrying: HTTP 503 (5 earlier changes not shown)",
    )


def test_failure_is_always_announced(demo, monkeypatch):
    app, session, notices = flapping_app(demo, monkeypatch)

    change(app, session, State.RETRYING)
    change(app, session, State.FAILED)

    assert [severity for severity, _ in notices] == ["warning", "error"]
    assert notices[-1][1] == "search-proxy (Acme) failed: HTTP 503"
