"""What the session screen repaints: per second only the countdown's digits,
and per beat only the fields whose text changed.

Every repaint is bytes over SSH. These tests record each ``Widget.refresh``
call, since a refresh without regions repaints the whole widget and one with
regions repaints only those cells.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from tests.apphelpers import make_app, wait_for
from tui.demo import data
from tui.demo.server import DemoServer
from tui.engine import State
from tui.screens.session import SessionScreen
from tui.text import local_time
from tui.widgets.history import HistoryTable
from tui.widgets.partial import PartialStatic, changed_regions
from tui.widgets.sessions import SessionsTable
from tui.widgets.stats import Countdown, countdown_width, sparkline_bars
from tui.widgets.status import StatusField

ACME = data.ACCOUNTS[0]
SCRIPT = data.SCRIPTS_BY_ACCOUNT_ID[ACME["id"]][0]["id"]


@dataclass
class Refresh:
    widget: Widget
    regions: tuple[Region, ...]
    layout: bool


@pytest.fixture
def refreshes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Refresh]]:
    """Record every Widget.refresh call from now on."""
    calls: list[Refresh] = []
    original = Widget.refresh

    def spy(self, *regions, **kw):
        calls.append(Refresh(self, regions, bool(kw.get("layout"))))
        return original(self, *regions, **kw)

    monkeypatch.setattr(Widget, "refresh", spy)
    yield calls


@pytest.fixture
def quiet_demo() -> Iterator[DemoServer]:
    """The demo API with no reply delay and practically no live-tail events."""
    with DemoServer(latency=(0.0, 0.0), event_rate=1e-6) as server:
        yield server


def on_main(app) -> bool:
    return isinstance(app.screen, SessionScreen) and app.screen.ready


# -- changed_regions ---------------------------------------------------------


def strip(*parts: tuple[str, Style | None]) -> Strip:
    return Strip([Segment(text, style) for text, style in parts])


def test_changed_regions_equal_lines():
    line = strip(("next beat in 27 s", None))
    assert changed_regions([line], [line]) == []


def test_changed_regions_spans_first_to_last_change():
    before = [strip(("in 27 s", None)), strip(("same", None))]
    after = [strip(("in 16 s", None)), strip(("same", None))]
    assert changed_regions(before, after) == [Region(3, 0, 2, 1)]


def test_changed_regions_style_change_counts():
    before = [strip(("ok", Style(color="green")))]
    after = [strip(("ok", Style(color="red")))]
    assert changed_regions(before, after) == [Region(0, 0, 2, 1)]


def test_changed_regions_shorter_line_clears_the_rest():
    before = [strip(("10 s", None))]
    after = [strip(("9 s", None))]
    assert changed_regions(before, after) == [Region(0, 0, 4, 1)]


def test_changed_regions_wide_characters_take_two_cells():
    before = [strip(("日本 x", None))]
    after = [strip(("日本 y", None))]
    assert changed_regions(before, after) == [Region(5, 0, 1, 1)]


# -- small widgets -------------------------------------------------------------


class OneWidget(App[None]):
    def __init__(self, widget: Widget) -> None:
        super().__init__()
        self.widget = widget

    def compose(self) -> ComposeResult:
        yield self.widget


async def test_countdown_repaints_changed_digits(refreshes):
    countdown = Countdown()
    async with OneWidget(countdown).run_test(size=(20, 3)) as pilot:
        countdown.show("27 s")
        await pilot.pause()
        refreshes.clear()
        countdown.show("26 s")
        countdown.show("26 s")
        calls = [call for call in refreshes if call.widget is countdown]
    assert [call.regions for call in calls] == [(Region(1, 0, 1, 1),)]


async def test_partial_static_repaints_changed_cells(refreshes):
    widget = PartialStatic("Uptime 100.0% of 9")
    async with OneWidget(widget).run_test(size=(40, 3)) as pilot:
        await pilot.pause()
        refreshes.clear()
        widget.update("Uptime 100.0% of 8")
        widget.update("Uptime 100.0% of 8")
        await pilot.pause()
        assert "of 8" in str(widget.render())
        calls = [call for call in refreshes if call.widget is widget]
    assert [call.regions for call in calls] == [(Region(17, 0, 1, 1),)]


async def test_partial_static_height_change_lays_out(refreshes):
    widget = PartialStatic("one line")
    async with OneWidget(widget).run_test(size=(40, 5)) as pilot:
        await pilot.pause()
        refreshes.clear()
        widget.update("two\nlines")
        await pilot.pause()
        assert widget.size.height == 2
        calls = [call for call in refreshes if call.widget is widget]
    assert calls[0].layout


def test_countdown_width_longest_text():
    assert countdown_width(30) == len("30 s")
    assert countdown_width(90) == len("1 min 30 s")
    assert countdown_width(3600) == len("59 min 59 s")


def test_sparkline_bars_one_a_value():
    assert sparkline_bars([1, 5, 9], 10) == "▁▄█"
    assert sparkline_bars([7, 7], 10) == "▁▁"
    assert sparkline_bars([1, 2, 3, 9], 2) == "▁█"
    assert sparkline_bars([], 5) == ""


# -- the sessions table --------------------------------------------------------


@dataclass(eq=False)
class FakeSession:
    session_id: int = 1
    account_name: str = "Acme"
    account_id: str = "0123456789abcdef"
    script: str = "api"
    state: State = State.ALIVE
    last_ok_wall: float | None = 1_800_000_000.0
    failures: int = 0


async def test_sessions_table_repaints_changed_cell_only(refreshes):
    table = SessionsTable()
    session = FakeSession()
    async with OneWidget(table).run_test(size=(80, 8)) as pilot:
        table.update_session(session)  # type: ignore[arg-type]
        await pilot.pause()
        refreshes.clear()
        session.last_ok_wall += 30
        table.update_session(session)  # type: ignore[arg-type]
        table.update_session(session)  # type: ignore[arg-type]
        await pilot.pause()
        cell = table.get_cell("1", "last_ok")
        calls = [call for call in refreshes if call.widget is table]
    assert len(calls) == 1
    (region,) = calls[0].regions
    # The Last OK column, on the one data row below the header.
    assert region.y == 1
    assert region.height == 1
    assert region.width == 8 + 2 * table.cell_padding
    assert not calls[0].layout
    assert cell == local_time(1_800_000_030.0)


async def test_sessions_budget_repaints_bottom_border_only(refreshes):
    table = SessionsTable()
    async with OneWidget(table).run_test(size=(80, 8)) as pilot:
        table.update_session(FakeSession())  # type: ignore[arg-type]
        table.show_budget("requests 5/1200 per 5 min · plan 10")
        await pilot.pause()
        refreshes.clear()
        table.show_budget("requests 6/1200 per 5 min · plan 10")
        table.show_budget("requests 6/1200 per 5 min · plan 10")
        await pilot.pause()
        subtitle = table.border_subtitle
        height = table.outer_size.height
        offset = table.content_offset
        calls = [call for call in refreshes if call.widget is table]
    assert len(calls) == 1
    (region,) = calls[0].regions
    # In widget coordinates, the region is the bottom border's first cells.
    assert region.y + offset.y == height - 1
    assert region.x + offset.x == 0
    assert region.width == len(subtitle) + 4
    assert subtitle == "requests 6/1200 per 5 min · plan 10"


# -- the session screen --------------------------------------------------------


def repainted(calls: list[Refresh], screen: SessionScreen) -> list[Refresh]:
    """The refreshes of the screen's widgets, leaving out the history pane."""
    history = screen.query_one(HistoryTable)
    return [
        call
        for call in calls
        if call.widget is not history and history not in call.widget.ancestors
    ]


async def test_idle_second_repaints_countdown_only(quiet_demo, refreshes):
    app = make_app(quiet_demo, "--account", ACME["id"], "--script", SCRIPT)
    async with app.run_test(size=(80, 24)) as pilot:
        assert await wait_for(lambda: on_main(app))
        assert await wait_for(lambda: app.session.beats_sent == 1)
        screen = app.screen
        countdown = screen.query_one(Countdown)
        # Let the first beat's repaints and the next tick pass.
        assert await wait_for(lambda: countdown.text.endswith(" s"), timeout=3)
        await pilot.pause(1.1)
        refreshes.clear()
        before = countdown.text
        assert await wait_for(lambda: countdown.text != before, timeout=2.5)
        await pilot.pause()
        calls = repainted(refreshes, screen)
    assert calls
    assert {call.widget for call in calls} == {countdown}
    for call in calls:
        assert call.regions, "the whole countdown was repainted"
        assert not call.layout
        assert all(region.width <= 2 for region in call.regions)


async def test_beat_repaints_changed_fields_only(quiet_demo, refreshes):
    app = make_app(quiet_demo, "--account", ACME["id"], "--script", SCRIPT)
    async with app.run_test(size=(80, 24)) as pilot:
        assert await wait_for(lambda: on_main(app))
        session = app.session
        assert await wait_for(lambda: session.beats_sent == 1)
        screen = app.screen
        await pilot.pause(1.1)
        refreshes.clear()
        session.beat_now()
        assert await wait_for(lambda: session.beats_sent == 2)
        # The sessions pane catches up on the next tick.
        await pilot.pause(1.2)
        calls = repainted(refreshes, screen)
    widgets = {call.widget for call in calls}
    fields = {w.label for w in widgets if isinstance(w, StatusField)}
    assert fields <= {"Last OK", "Next beat"}
    assert "Next beat" in fields
    ids = {w.id for w in widgets}
    assert ids <= {
        "status-last-ok",
        "status-next-beat",
        "uptime",
        "latency-sparkline",
        "countdown",
        "sessions",
    }
    for call in calls:
        assert call.regions, f"{call.widget!r} was repainted whole"
        assert not call.layout, f"{call.widget!r} laid the screen out"


async def test_status_fields_show_the_session(quiet_demo):
    app = make_app(quiet_demo, "--account", ACME["id"], "--script", SCRIPT)
    async with app.run_test(size=(80, 24)) as pilot:
        assert await wait_for(lambda: on_main(app))
        assert await wait_for(lambda: app.session.beats_sent == 1)
        await pilot.pause(1.1)
        screen = app.screen
        fields = {f.label: f for f in screen.query(StatusField)}
        values = {label: field.value.plain for label, field in fields.items()}
        countdown = screen.query_one(Countdown).text
        label = str(screen.query_one("#countdown-label", PartialStatic).render())
    assert values["Worker"] == SCRIPT
    assert values["State"] == "● alive every 30 s"
    assert values["Account"].startswith(ACME["name"])
    assert values["Last OK"].endswith(" ms")
    assert values["Next beat"].startswith("at ")
    assert values["Events"]
    assert values["Last error"] == "—"
    assert label == "next beat in"
    assert countdown.endswith(" s")


async def test_status_pane_narrow_layout(quiet_demo):
    app = make_app(quiet_demo, "--account", ACME["id"], "--script", SCRIPT)
    async with app.run_test(size=(60, 20)) as pilot:
        assert await wait_for(lambda: on_main(app))
        await pilot.pause()
        screen = app.screen
        pane = screen.status_pane
        worker = screen.query_one("#status-worker", StatusField)
        state = screen.query_one("#status-state", StatusField)
        narrow = pane.has_class("-narrow")
        same_row = worker.region.y == state.region.y
        state_label_width = state.label_width
        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        wide = not pane.has_class("-narrow")
        wide_same_row = worker.region.y == state.region.y
    assert narrow
    assert not same_row
    assert state_label_width == len("Credential")
    assert wide
    assert wide_same_row


async def test_paused_session_hides_countdown(quiet_demo):
    app = make_app(quiet_demo, "--account", ACME["id"], "--script", SCRIPT)
    async with app.run_test(size=(80, 24)) as pilot:
        assert await wait_for(lambda: on_main(app))
        assert await wait_for(lambda: app.session.beats_sent == 1)
        await pilot.press("p")
        assert await wait_for(lambda: app.session.state is State.PAUSED)
        await pilot.pause(1.1)
        screen = app.screen
        countdown = screen.query_one(Countdown)
        next_beat = screen.query_one("#status-next-beat", StatusField).value
    assert not countdown.display
    assert next_beat == Text("paused: press p to resume", style="cyan")


async def test_countdown_widens_for_long_retry(quiet_demo):
    app = make_app(quiet_demo, "--account", ACME["id"], "--script", SCRIPT)
    async with app.run_test(size=(80, 24)) as pilot:
        assert await wait_for(lambda: on_main(app))
        bar = app.screen.stats_bar
        countdown = app.screen.query_one(Countdown)
        bar.show_countdown("retry in", "5 min", 30.0)
        await pilot.pause()
        widened = countdown.size.width
        bar.show_countdown("next beat in", "29 s", 30.0)
        await pilot.pause()
        back = countdown.size.width
    assert widened == len("5 min")
    assert back == len("30 s")


def test_startup_objects_frozen_once(monkeypatch):
    from tui.screens import session as session_module

    calls: list[str] = []
    monkeypatch.setattr(session_module, "_startup_frozen", False)
    monkeypatch.setattr(session_module.gc, "collect", lambda: calls.append("collect"))
    monkeypatch.setattr(session_module.gc, "freeze", lambda: calls.append("freeze"))
    session_module.freeze_startup_objects()
    session_module.freeze_startup_objects()
    assert calls == ["collect", "freeze"]
