"""Pilot tests of the app against the demo API on loopback."""

from __future__ import annotations

import io

from rich.console import Console
from textual.widgets import Input, OptionList

from tests.apphelpers import make_app, wait_for
from tui import envelope as env
from tui.api import ApiError, CloudflareClient
from tui.demo import data
from tui.demo.server import DEMO_TOKEN
from tui.engine import State
from tui.screens.accounts import AccountScreen
from tui.screens.interval import IntervalScreen
from tui.screens.scripts import ScriptScreen
from tui.screens.session import SessionScreen
from tui.widgets.history import HistoryTable
from tui.widgets.status import StatusPane


def on_session_screen(app) -> bool:
    return isinstance(app.screen, SessionScreen) and app.screen.ready


def option_ids(app) -> list[str]:
    option_list = app.screen.query_one("#picker-list", OptionList)
    return [
        option_list.get_option_at_index(i).id for i in range(option_list.option_count)
    ]


async def test_pick_account_and_script_then_beats_arrive(demo):
    app = make_app(demo, "--interval", "1")
    async with app.run_test(size=(100, 30)) as pilot:
        assert await wait_for(lambda: isinstance(app.screen, AccountScreen))
        assert await wait_for(lambda: len(option_ids(app)) == len(data.ACCOUNTS))
        await pilot.press(*"personal")
        assert await wait_for(lambda: len(option_ids(app)) == 1)
        await pilot.press("enter")
        assert await wait_for(lambda: isinstance(app.screen, ScriptScreen))
        assert await wait_for(lambda: len(option_ids(app)) > 0)
        first_script = option_ids(app)[0]
        await pilot.press("enter")
        assert await wait_for(lambda: on_session_screen(app))
        table = app.screen.query_one(HistoryTable)
        assert await wait_for(lambda: table.row_count >= 2, timeout=6)
        assert app.session is not None
        assert app.session.script == first_script
        assert app.session.account_name == "Personal"
        assert app.session.state is State.ALIVE


async def test_flags_skip_the_pickers(demo):
    account = data.ACCOUNTS[0]
    script = data.SCRIPTS_BY_ACCOUNT_ID[account["id"]][0]["id"]
    app = make_app(demo, "--account", account["id"], "--script", script)
    async with app.run_test(size=(100, 30)):
        assert await wait_for(lambda: on_session_screen(app))
        table = app.screen.query_one(HistoryTable)
        assert await wait_for(lambda: table.row_count == 1)
        assert app.session.account_name == account["name"]


async def test_unknown_script_offers_the_picker(demo):
    account = data.ACCOUNTS[0]
    app = make_app(demo, "--account", account["id"], "--script", "no-such-worker")
    async with app.run_test(size=(100, 30)):
        assert await wait_for(lambda: isinstance(app.screen, ScriptScreen))
        message = app.screen.query_one("#picker-message")
        assert await wait_for(lambda: "no-such-worker" in str(message.render()))
        assert account["id"] in str(message.render())


async def test_session_keys(demo):
    account = data.ACCOUNTS[0]
    script = data.SCRIPTS_BY_ACCOUNT_ID[account["id"]][0]["id"]
    app = make_app(demo, "--account", account["id"], "--script", script)
    async with app.run_test(size=(100, 30)) as pilot:
        assert await wait_for(lambda: on_session_screen(app))
        table = app.screen.query_one(HistoryTable)
        assert await wait_for(lambda: table.row_count == 1)
        await pilot.press("b")
        assert await wait_for(lambda: table.row_count == 2)
        await pilot.press("p")
        assert await wait_for(lambda: app.session.state is State.PAUSED)
        await pilot.press("p")
        assert await wait_for(lambda: table.row_count == 3)
        assert await wait_for(lambda: app.session.state is State.ALIVE)
        await pilot.press("i")
        assert await wait_for(lambda: isinstance(app.screen, IntervalScreen))
        field = app.screen.query_one(Input)
        field.value = ""
        await pilot.press(*"5000", "enter")
        assert isinstance(app.screen, IntervalScreen)
        field.value = ""
        await pilot.press(*"12", "enter")
        assert await wait_for(lambda: on_session_screen(app))
        assert app.session.interval == 12.0
        session = app.session
        await pilot.press("escape")
        assert await wait_for(lambda: isinstance(app.screen, AccountScreen))
        # The pickers open on top; the session keeps beating meanwhile.
        assert session.state is State.ALIVE
        await pilot.press("escape")
        assert await wait_for(lambda: on_session_screen(app))
        await pilot.press("x")
        assert await wait_for(lambda: session.state is State.STOPPED)
        assert app.sessions == []


async def test_status_pane_shows_no_secret(demo):
    account = data.ACCOUNTS[0]
    script = data.SCRIPTS_BY_ACCOUNT_ID[account["id"]][0]["id"]
    app = make_app(demo, "--account", account["id"], "--script", script)
    async with app.run_test(size=(100, 30)):
        assert await wait_for(lambda: on_session_screen(app))
        pane = app.screen.query_one(StatusPane)
        assert await wait_for(lambda: pane.session.beats_sent == 1)
        console = Console(record=True, width=100, file=io.StringIO())
        console.print(pane.render_status())
        shown = console.export_text()
        assert "API token from the demo API" in shown
        assert script in shown
        assert account["id"] in shown
        assert DEMO_TOKEN not in shown
        assert DEMO_TOKEN not in app.export_screenshot()


async def test_quit_stops_the_session(demo):
    account = data.ACCOUNTS[0]
    script = data.SCRIPTS_BY_ACCOUNT_ID[account["id"]][0]["id"]
    app = make_app(demo, "--account", account["id"], "--script", script)
    async with app.run_test(size=(100, 30)) as pilot:
        assert await wait_for(lambda: on_session_screen(app))
        session = app.session
        await pilot.press("q")
    assert session.state is State.STOPPED


async def fail_listing(*args, **kwargs):
    """Stand in for a listing call with a token that lacks the read permissions."""
    raise ApiError("listing", env.failure(env.AUTH_FAILED, "HTTP 403", 0.0))


async def test_flags_skip_pickers_that_cannot_list(demo, monkeypatch):
    # A token with only Workers Observability Write cannot list accounts or
    # Workers. The flags name both, so the session starts anyway.
    monkeypatch.setattr(CloudflareClient, "list_accounts", fail_listing)
    monkeypatch.setattr(CloudflareClient, "list_scripts", fail_listing)
    account = data.ACCOUNTS[0]
    script = data.SCRIPTS_BY_ACCOUNT_ID[account["id"]][0]["id"]
    app = make_app(demo, "--account", account["id"], "--script", script)
    async with app.run_test(size=(100, 30)):
        assert await wait_for(lambda: on_session_screen(app))
        table = app.screen.query_one(HistoryTable)
        assert await wait_for(lambda: table.row_count == 1)
        assert app.session.script == script
        assert app.session.account_id == account["id"]
        assert app.session.state is State.ALIVE


async def test_failed_listing_without_flags_shows_error(demo, monkeypatch):
    monkeypatch.setattr(CloudflareClient, "list_accounts", fail_listing)
    app = make_app(demo)
    async with app.run_test(size=(100, 30)):
        assert await wait_for(lambda: isinstance(app.screen, AccountScreen))
        message = app.screen.query_one("#picker-message")
        assert await wait_for(lambda: "HTTP 403" in str(message.render()))
        assert not on_session_screen(app)
