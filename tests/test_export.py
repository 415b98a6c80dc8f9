"""Exporting a session's history from the export dialog."""

from __future__ import annotations

import asyncio
import csv
import os
import time
from pathlib import Path

import pytest

from tests.apphelpers import make_app, wait_for
from tests.test_sessions import ACME, on_main, script_of, start_with_acme
from tui.engine import State
from tui.errors import UserError
from tui.export import check_target
from tui.screens.export import ExportScreen

# Exported on the event loop, this many beats stalled it for 0.8 s on a
# 2-core VM, above LAG_LIMIT.
MANY_BEATS = 100_000
LAG_LIMIT = 0.5


def add_many_beats(app, count: int) -> None:
    session = app.session
    now = time.time()
    rows = [
        (session.session_id, now - count + n, 1, 200, 1.0, "ok", "", None, None, n)
        for n in range(count)
    ]
    app.store._db.executemany(
        "INSERT INTO beats (session_id, time, ok, http_status, latency_ms, outcome,"
        " message, ray, gap_s, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


async def open_export(app, pilot, path: Path) -> None:
    await pilot.press("e")
    assert await wait_for(lambda: isinstance(app.screen, ExportScreen))
    app.screen.query_one("#export-path").value = str(path)


def dialog_text(app) -> str:
    return str(app.screen.query_one("#dialog-message").render())


async def test_export_keeps_the_event_loop_free(demo, tmp_path):
    app = make_app(demo, "--account", ACME["id"], "--script", script_of(ACME))
    async with app.run_test(size=(100, 40)) as pilot:
        await start_with_acme(pilot, app)
        await pilot.press("p")
        assert await wait_for(lambda: app.session.state is State.PAUSED)
        add_many_beats(app, MANY_BEATS)
        expected = app.store.count(app.session.session_id)
        target = tmp_path / "big.csv"
        await open_export(app, pilot, target)

        worst_lag = 0.0
        stop = asyncio.Event()

        async def probe() -> None:
            nonlocal worst_lag
            while not stop.is_set():
                started = time.monotonic()
                await asyncio.sleep(0.01)
                worst_lag = max(worst_lag, time.monotonic() - started - 0.01)

        probing = asyncio.create_task(probe())
        await pilot.press("enter")
        assert await wait_for(lambda: on_main(app), timeout=60)
        stop.set()
        await probing

    with target.open(newline="") as handle:
        rows = sum(1 for _ in csv.DictReader(handle))
    assert rows == expected
    assert worst_lag < LAG_LIMIT


async def test_export_asks_before_replacing_a_file(demo, tmp_path):
    app = make_app(demo, "--account", ACME["id"], "--script", script_of(ACME))
    target = tmp_path / "old.csv"
    target.write_text("keep me\n")
    async with app.run_test(size=(100, 40)) as pilot:
        await start_with_acme(pilot, app)
        assert await wait_for(lambda: app.session.beats_sent >= 1)
        await open_export(app, pilot, target)
        await pilot.press("enter")
        await pilot.pause(0.2)

        assert "press Enter again to replace it" in dialog_text(app)
        assert isinstance(app.screen, ExportScreen)
        assert target.read_text() == "keep me\n"

        await pilot.press("enter")
        assert await wait_for(lambda: on_main(app))

    assert target.read_text().startswith("time,")


def test_read_only_target_is_rejected(tmp_path, monkeypatch: pytest.MonkeyPatch):
    target = tmp_path / "locked.csv"
    target.write_text("x\n")
    # The tests run as root, and root may write to any file.
    monkeypatch.setattr(os, "access", lambda path, mode: False)

    with pytest.raises(UserError, match="is read-only"):
        check_target(target)
