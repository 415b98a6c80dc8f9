"""Pilot tests of the session manager: add, switch, operate, close, reopen."""

from __future__ import annotations

import csv
import io
import json

from rich.console import Console

from tests.apphelpers import make_app, wait_for
from tui import settings
from tui.demo import data
from tui.engine import State
from tui.screens.accounts import AccountScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.export import ExportScreen
from tui.screens.help import HelpScreen
from tui.screens.scripts import ScriptScreen
from tui.screens.session import SessionScreen
from tui.widgets.history import HistoryTable
from tui.widgets.sessions import SessionsTable

ACME = data.ACCOUNTS[0]
PERSONAL = next(a for a in data.ACCOUNTS if a["name"] == "Personal")


def script_of(account: dict, index: int = 0) -> str:
    return data.SCRIPTS_BY_ACCOUNT_ID[account["id"]][index]["id"]


def plain(renderable) -> str:
    console = Console(record=True, width=120, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def on_main(app) -> bool:
    return isinstance(app.screen, SessionScreen) and app.screen.ready


async def add_session(app, pilot, account_name: str, script_index: int = 0) -> None:
    """Open the pickers with a, choose the account and its Worker number N."""
    await pilot.press("a")
    assert await wait_for(
        lambda: isinstance(app.screen, AccountScreen) and app.screen.choices
    )
    await pilot.press(*account_name, "enter")
    assert await wait_for(
        lambda: isinstance(app.screen, ScriptScreen) and app.screen.choices
    )
    account = next(a for a in data.ACCOUNTS if a["name"] == account_name)
    await pilot.press(*script_of(account, script_index), "enter")


async def start_with_acme(pilot, app, *extra: str) -> None:
    assert await wait_for(lambda: on_main(app))
    assert await wait_for(lambda: app.session.beats_sent >= 1)


async def test_add_second_session_and_switch(demo):
    app = make_app(demo, "--account", ACME["id"], "--script", script_of(ACME))
    async with app.run_test(size=(100, 40)) as pilot:
        await start_with_acme(pilot, app)
        first = app.session
        await add_session(app, pilot, "Personal")
        assert await wait_for(lambda: len(app.sessions) == 2)
        assert await wait_for(lambda: on_main(app))
        second = app.session
        assert second.account_id == PERSONAL["id"]
        assert await wait_for(
            lambda: app.screen.query_one(SessionsTable).row_count == 2
        )
        await pilot.press("tab")
        assert app.session is first
        history = app.screen.query_one(HistoryTable)
        assert history.session_id == first.session_id
        await pilot.press("tab")
        assert app.session is second
        assert first.state is State.ALIVE
        assert await wait_for(lambda: second.beats_sent >= 1)


async def test_operations_act_on_selected_session_only(demo):
    app = make_app(demo, "--account", ACME["id"], "--script", script_of(ACME))
    async with app.run_test(size=(100, 40)) as pilot:
        await start_with_acme(pilot, app)
        first = app.session
        await add_session(app, pilot, "Personal")
        assert await wait_for(lambda: len(app.sessions) == 2)
        assert await wait_for(lambda: on_main(app))
        second = app.session
        assert await wait_for(lambda: second.beats_sent >= 1)
        await pilot.press("p")
        assert await wait_for(lambda: second.state is State.PAUSED)
        assert first.state is State.ALIVE
        beats_before = first.beats_sent
        await pilot.press("tab", "b")
        assert await wait_for(lambda: first.beats_sent == beats_before + 1)
        assert second.state is State.PAUSED
        await pilot.press("tab", "p")
        assert await wait_for(lambda: second.state is State.ALIVE)
        await pilot.press("x")
        assert await wait_for(lambda: len(app.sessions) == 1)
        assert second.state is State.STOPPED
        assert first.state is State.ALIVE
        assert app.session is first


async def test_same_session_is_not_opened_twice(demo):
    app = make_app(demo, "--account", ACME["id"], "--script", script_of(ACME))
    async with app.run_test(size=(100, 40)) as pilot:
        await start_with_acme(pilot, app)
        await add_session(app, pilot, "Acme Robotics")
        assert await wait_for(lambda: on_main(app))
        assert len(app.sessions) == 1


async def test_export_writes_csv_and_jsonl(demo, tmp_path):
    app = make_app(
        demo, "--account", ACME["id"], "--script", script_of(ACME), "--interval", "1"
    )
    async with app.run_test(size=(100, 40)) as pilot:
        await start_with_acme(pilot, app)
        assert await wait_for(lambda: app.session.beats_sent >= 2, timeout=5)
        await pilot.press("p")
        assert await wait_for(lambda: app.session.state is State.PAUSED)
        written = app.session.beats_sent
        for name in ("out.csv", "out.jsonl"):
            await pilot.press("e")
            assert await wait_for(lambda: isinstance(app.screen, ExportScreen))
            field = app.screen.query_one("#export-path")
            field.value = str(tmp_path / name)
            await pilot.press("enter")
            assert await wait_for(lambda: on_main(app))
    with open(tmp_path / "out.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == written
    assert rows[0]["script"] == script_of(ACME)
    assert rows[0]["outcome"] == "ok"
    assert rows[0]["account_id"] == ACME["id"]
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert len(lines) == written
    assert json.loads(lines[-1])["ok"] is True


async def test_export_to_missing_folder_says_so(demo, tmp_path):
    app = make_app(demo, "--account", ACME["id"], "--script", script_of(ACME))
    async with app.run_test(size=(100, 40)) as pilot:
        await start_with_acme(pilot, app)
        await pilot.press("e")
        assert await wait_for(lambda: isinstance(app.screen, ExportScreen))
        app.screen.query_one("#export-path").value = str(tmp_path / "no" / "x.csv")
        await pilot.press("enter")
        message = app.screen.query_one("#dialog-message")
        assert "does not exist" in str(message.render())
        assert isinstance(app.screen, ExportScreen)


async def test_budget_refuses_a_session_over_the_limit(demo):
    # Four sessions at 1 s plan 1,200 requests per 5 minutes; a fifth is over.
    app = make_app(
        demo, "--account", ACME["id"], "--script", script_of(ACME), "--interval", "1"
    )
    async with app.run_test(size=(100, 40)) as pilot:
        await start_with_acme(pilot, app)
        for index in (1, 2, 3):
            await add_session(app, pilot, "Acme Robotics", index)
            if index == 3:
                assert await wait_for(lambda: isinstance(app.screen, ConfirmScreen))
                await pilot.press("y")
            assert await wait_for(lambda n=index + 1: len(app.sessions) == n)
            assert await wait_for(lambda: on_main(app))
        await add_session(app, pilot, "Acme Robotics", 4)
        await pilot.pause(0.3)
        assert len(app.sessions) == 4
        assert isinstance(app.screen, ScriptScreen)


async def test_budget_warns_before_passing_80_percent(demo):
    app = make_app(
        demo, "--account", ACME["id"], "--script", script_of(ACME), "--interval", "1"
    )
    async with app.run_test(size=(100, 40)) as pilot:
        await start_with_acme(pilot, app)
        for index in (1, 2):
            await add_session(app, pilot, "Acme Robotics", index)
            assert await wait_for(lambda n=index + 1: len(app.sessions) == n)
        await add_session(app, pilot, "Acme Robotics", 3)
        assert await wait_for(lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await pilot.pause(0.2)
        assert len(app.sessions) == 3


async def test_sessions_reopen_after_restart(demo):
    app = make_app(demo, "--account", ACME["id"], "--script", script_of(ACME))
    async with app.run_test(size=(100, 40)) as pilot:
        await start_with_acme(pilot, app)
        await add_session(app, pilot, "Personal")
        assert await wait_for(lambda: len(app.sessions) == 2)
        ids = sorted(s.session_id for s in app.sessions)
        await pilot.press("q")
    stored = settings.load()
    assert sorted(s.session_id for s in stored.open_sessions) == ids

    again = make_app(demo)
    async with again.run_test(size=(100, 40)) as pilot:
        assert await wait_for(lambda: isinstance(again.screen, ConfirmScreen))
        await pilot.press("y")
        assert await wait_for(lambda: on_main(again))
        assert sorted(s.session_id for s in again.sessions) == ids
        assert await wait_for(lambda: all(s.beats_sent >= 1 for s in again.sessions))
        first = again.sessions[0]
        beats = again.store.beats(first.session_id, 1)
        assert "app closed" in beats[0].message or beats[0].gap_s is None


async def test_help_lists_keys_files_and_budget(demo):
    app = make_app(demo, "--account", ACME["id"], "--script", script_of(ACME))
    async with app.run_test(size=(100, 40)) as pilot:
        await start_with_acme(pilot, app)
        await pilot.press("f1")
        assert await wait_for(lambda: isinstance(app.screen, HelpScreen))
        text = plain(app.screen.render_help())
        assert "send a heartbeat now" in text
        assert "history.db" in text
        assert "Request budget" in text
        await pilot.press("escape")
        assert await wait_for(lambda: on_main(app))


async def test_remapped_key_works(demo, isolated_dirs):
    config_dir = isolated_dirs / ".config" / "cf-livetail"
    config_dir.mkdir(parents=True)
    (config_dir / "settings.toml").write_text('[keys]\nbeat_now = "k"\n')
    app = make_app(demo, "--account", ACME["id"], "--script", script_of(ACME))
    async with app.run_test(size=(100, 40)) as pilot:
        await start_with_acme(pilot, app)
        before = app.session.beats_sent
        await pilot.press("k")
        assert await wait_for(lambda: app.session.beats_sent == before + 1)


async def test_unsafe_remap_is_refused(demo, isolated_dirs):
    config_dir = isolated_dirs / ".config" / "cf-livetail"
    config_dir.mkdir(parents=True)
    (config_dir / "settings.toml").write_text('[keys]\nbeat_now = "ctrl+h"\n')
    app = make_app(demo, "--account", ACME["id"], "--script", script_of(ACME))
    async with app.run_test(size=(100, 40)):
        assert app.keymap == {}
        assert any("ctrl+h" in notice for notice in app.key_notices)


async def test_theme_toggle_is_saved(demo):
    app = make_app(demo, "--account", ACME["id"], "--script", script_of(ACME))
    async with app.run_test(size=(100, 40)) as pilot:
        await start_with_acme(pilot, app)
        await pilot.press("t")
        assert app.theme == "textual-light"
    assert settings.load().theme == "light"


async def test_events_view_shows_the_demo_stream(demo):
    from tui.widgets.events import EventsPane

    app = make_app(demo, "--account", ACME["id"], "--script", script_of(ACME))
    async with app.run_test(size=(100, 30)) as pilot:
        await start_with_acme(pilot, app)
        await pilot.press("v")
        pane = app.screen.query_one(EventsPane)
        assert pane.display
        assert not app.screen.query_one(HistoryTable).display
        assert await wait_for(lambda: pane.received > 0, timeout=8)
        assert app.stream_for(app.session).stream.state_text.startswith("open")
        await pilot.press("v")
        assert app.screen.query_one(HistoryTable).display
