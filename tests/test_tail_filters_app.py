"""The app with wrangler tail's filter flags: shown, sent, and edited."""

from __future__ import annotations

import io
import re

from rich.console import Console
from textual.widgets import Input, Static

from tests.apphelpers import make_app, wait_for
from tests.test_wrangler import write
from tui.client_filter import HeaderMatch, make_client_filter
from tui.demo import data
from tui.screens.accounts import AccountScreen
from tui.screens.client_filters import ClientFiltersScreen
from tui.screens.session import SessionScreen
from tui.widgets.status import StatusPane

ACCOUNT = next(a["id"] for a in data.ACCOUNTS if a["name"] == "Acme Robotics")
SCRIPT = "search-proxy"
SIZE = (110, 32)
STATUS_GROUP = {
    "kind": "group",
    "filterCombination": "or",
    "filters": [
        {"key": "$workers.outcome", "operation": "eq", "type": "string", "value": "ok"},
        {
            "key": "$workers.outcome",
            "operation": "eq",
            "type": "string",
            "value": "canceled",
        },
    ],
}


def on_session_screen(app) -> bool:
    return isinstance(app.screen, SessionScreen) and app.screen.ready


def status_text(app) -> str:
    pane = app.screen.query_one(StatusPane)
    console = Console(record=True, width=240, file=io.StringIO())
    console.print(pane.render_status())
    # Long rows wrap inside their column; join them into one line of words.
    return " ".join(console.export_text().split())


async def test_flags_reach_session_and_status(demo):
    app = make_app(
        demo,
        "--account",
        ACCOUNT,
        SCRIPT,
        "--status",
        "ok",
        "--status",
        "canceled",
        "--header",
        "x-requested-with",
        "--sampling-rate",
        "0.5",
    )
    async with app.run_test(size=SIZE):
        assert await wait_for(lambda: on_session_screen(app))
        session = app.session
        stream = app.stream_for(session)
        assert await wait_for(lambda: session.ws_url is not None)
        shown = status_text(app)
        subtitle = str(app.screen.query_one(StatusPane).border_subtitle)
        prepares = [r for r in demo.requests if r.path.endswith("/live-tail")]
    assert session.script == SCRIPT
    assert session.filters == [STATUS_GROUP]
    assert prepares[-1].json()["filters"] == [STATUS_GROUP]
    assert stream.client_filter == make_client_filter(
        headers=[HeaderMatch("x-requested-with")], sampling_rate=0.5
    )
    assert "Filters" in shown
    assert "server-side ($workers.outcome = ok or $workers.outcome = canceled)" in shown
    assert re.search(
        r"client-side header x-requested-with · sampling 50% of events "
        r"\(\d+ dropped\)",
        shown,
    )
    assert re.fullmatch(
        r"1 server-side filter · client-side header x-requested-with · sampling "
        r"50% of events \(\d+ dropped\)",
        subtitle,
    )


async def test_no_filters_no_filter_row(demo):
    app = make_app(demo, "--account", ACCOUNT, SCRIPT)
    async with app.run_test(size=SIZE):
        assert await wait_for(lambda: on_session_screen(app))
        shown = status_text(app)
        subtitle = str(app.screen.query_one(StatusPane).border_subtitle)
        stream = app.stream_for(app.session)
    assert "Filters" not in shown
    assert subtitle == ""
    assert stream.client_filter is None


async def test_client_filter_dialog(demo):
    app = make_app(demo, "--account", ACCOUNT, SCRIPT, "--ip", "203.0.113.7")
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(lambda: on_session_screen(app))
        stream = app.stream_for(app.session)
        await pilot.press("c")
        assert await wait_for(lambda: isinstance(app.screen, ClientFiltersScreen))
        field = app.screen.query_one(Input)
        first_value = field.value

        field.value = "--sampling-rate 2"
        await pilot.press("enter")
        await pilot.pause()
        message = str(app.screen.query_one("#dialog-message", Static).render())
        still_open = isinstance(app.screen, ClientFiltersScreen)

        field.value = "--header x-tenant:acme --sampling-rate 0.25"
        await pilot.press("enter")
        assert await wait_for(lambda: on_session_screen(app))
        edited = stream.client_filter
        shown = status_text(app)

        await pilot.press("c")
        assert await wait_for(lambda: isinstance(app.screen, ClientFiltersScreen))
        await pilot.click("#client-filters-clear")
        assert await wait_for(lambda: on_session_screen(app))
        cleared = stream.client_filter
        shown_after_clear = status_text(app)
    assert first_value == "--ip 203.0.113.7"
    assert still_open
    assert "invalid sampling rate '2'" in message
    assert edited == make_client_filter(
        headers=[HeaderMatch("x-tenant", "acme")], sampling_rate=0.25
    )
    assert "client-side header x-tenant:acme · sampling 25% of events" in shown
    assert cleared is None
    assert "Filters" not in shown_after_clear


async def test_client_filter_dialog_cancel_keeps_filter(demo):
    app = make_app(demo, "--account", ACCOUNT, SCRIPT, "--sampling-rate", "0.5")
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(lambda: on_session_screen(app))
        stream = app.stream_for(app.session)
        before = stream.client_filter
        await pilot.press("c")
        assert await wait_for(lambda: isinstance(app.screen, ClientFiltersScreen))
        app.screen.query_one(Input).value = "--ip 192.0.2.1"
        await pilot.press("escape")
        assert await wait_for(lambda: on_session_screen(app))
        after = stream.client_filter
    assert after is before


async def test_config_note_is_notified(demo, tmp_path):
    text = f'name = "search"\n[env.live]\naccount_id = "{ACCOUNT}"\n'
    path = write(tmp_path, "wrangler.toml", text)
    app = make_app(demo, "--config", str(path), "--env", "live")
    notes: list[str] = []
    notify = app.notify

    def record(message, *args, **kw):
        notes.append(str(message))
        return notify(message, *args, **kw)

    app.notify = record  # type: ignore[method-assign]
    async with app.run_test(size=SIZE):
        assert await wait_for(lambda: isinstance(app.screen, AccountScreen))
        preselected = app.preselected_account()
    expected = (
        "using wrangler.toml in the current directory, environment live: "
        f"Worker search-live, account {ACCOUNT}"
    )
    assert expected in notes
    assert preselected == (
        ACCOUNT,
        "wrangler.toml in the current directory, environment live",
    )
