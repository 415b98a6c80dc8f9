"""The events pane, its detail dialog and the filter dialog, driven by Pilot."""

from __future__ import annotations

import json

from textual.app import App, ComposeResult
from textual.widgets import Input, Select, Static

from tui.events import EventLine, parse_event
from tui.filters import FilterSet
from tui.screens.event_detail import EventDetailScreen
from tui.screens.filters import FilterRow, FiltersScreen
from tui.widgets.event_list import format_line
from tui.widgets.events import EventsPane

SIZE = (100, 30)


def make_event(n: int, level: str = "info", error: str | None = None) -> EventLine:
    metadata = {"id": str(n), "level": level, "message": f"event number {n}"}
    if error:
        metadata["error"] = error
    return parse_event({"timestamp": 1_764_500_000_000 + n, "$metadata": metadata})


class PaneApp(App[None]):
    def __init__(self, **pane_options):
        super().__init__()
        self.pane_options = pane_options
        self.filter_changes: list[FilterSet] = []

    def compose(self) -> ComposeResult:
        yield EventsPane(**self.pane_options)

    def on_events_pane_filters_changed(self, message: EventsPane.FiltersChanged):
        self.filter_changes.append(message.filters)


def row_text(pane: EventsPane, y: int) -> str:
    return pane.event_list.render_line(y).text


def visible_ids(pane: EventsPane) -> list[str]:
    events = pane.event_list
    height = events.scrollable_content_region.height
    top = round(events.scroll_y)
    shown = [events.line_at(top + y) for y in range(height)]
    return [line.raw["$metadata"]["id"] for line in shown if line is not None]


async def fill(pilot, pane: EventsPane, first: int, last: int) -> None:
    for n in range(first, last + 1):
        pane.add_event(make_event(n))
    await pilot.pause(pane.flush_seconds + 0.05)
    await pilot.pause()


async def test_events_appear_and_follow():
    app = PaneApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(EventsPane)
        await fill(pilot, pane, 1, 60)
        events = pane.event_list
        assert events.total == 60
        assert events.following is True
        assert events.cursor == 59
        assert events.scroll_y == events.max_scroll_y
        assert visible_ids(pane)[-1] == "60"
        assert str(pane.border_title) == "Events (60)"
        height = events.scrollable_content_region.height
        assert "event number 60" in row_text(pane, height - 1)


async def test_events_drawn_in_batches():
    app = PaneApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(EventsPane)
        for n in range(500):
            pane.add_event(make_event(n))
        assert pane.pending == 500
        assert pane.event_list.total == 0
        await pilot.pause(pane.flush_seconds + 0.05)
        assert pane.pending == 0
        assert pane.event_list.total == 500
        assert pane.flushes == 1


async def test_scrolling_up_holds_and_counts_new():
    app = PaneApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(EventsPane)
        await fill(pilot, pane, 1, 60)
        pane.event_list.focus()
        await pilot.press("up", "up")
        held_view = visible_ids(pane)
        held_cursor = pane.event_list.cursor
        await fill(pilot, pane, 61, 67)
        events = pane.event_list
        assert events.following is False
        assert events.waiting == 7
        assert "held, 7 new: End or n follows" in str(pane.border_title)
        assert visible_ids(pane) == held_view
        assert events.cursor == held_cursor
        await pilot.press("n")
        assert events.following is True
        assert events.waiting == 0
        assert visible_ids(pane)[-1] == "67"
        assert "held" not in str(pane.border_title)


async def test_mouse_scroll_up_holds():
    app = PaneApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(EventsPane)
        await fill(pilot, pane, 1, 80)
        events = pane.event_list
        # What the mouse wheel does: scroll without moving the cursor.
        events.scroll_up(animate=False)
        await pilot.pause()
        assert events.following is False
        top = visible_ids(pane)[0]
        await fill(pilot, pane, 81, 90)
        assert visible_ids(pane)[0] == top
        assert events.waiting == 10


async def test_moving_down_to_last_follows_again():
    app = PaneApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(EventsPane)
        await fill(pilot, pane, 1, 10)
        pane.event_list.focus()
        await pilot.press("up")
        assert pane.event_list.following is False
        await pilot.press("down")
        assert pane.event_list.following is True


async def test_pane_keeps_max_lines():
    app = PaneApp(max_lines=50)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(EventsPane)
        await fill(pilot, pane, 1, 120)
        events = pane.event_list
        assert events.total == 50
        assert pane.dropped == 70
        assert events.line_at(0).raw["$metadata"]["id"] == "71"
        assert pane.received == 120


async def test_held_view_stays_on_same_events_while_trimming():
    app = PaneApp(max_lines=100)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(EventsPane)
        await fill(pilot, pane, 1, 100)
        pane.event_list.focus()
        await pilot.press("up")
        held_view = visible_ids(pane)
        await fill(pilot, pane, 101, 110)
        assert visible_ids(pane) == held_view
        assert pane.event_list.line_at(0).raw["$metadata"]["id"] == "11"


async def test_search_narrows_and_highlights():
    app = PaneApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(EventsPane)
        for n in range(1, 41):
            pane.add_event(make_event(n, "warn" if n % 10 == 0 else "info"))
        await pilot.pause(pane.flush_seconds + 0.05)
        pane.event_list.focus()
        await pilot.press("slash")
        search = pane.query_one("#events-search", Input)
        assert search.has_focus
        await pilot.press(*"warn")
        await pilot.press("enter")
        events = pane.event_list
        # Every tenth event is a warning.
        assert events.shown == 4
        assert events.total == 40
        assert "4 of 40 match" in str(pane.border_title)
        assert events.has_focus
        strip = pane.event_list.render_line(0)
        highlighted = [
            segment.text
            for segment in strip
            if segment.style
            and segment.style.bgcolor is not None
            and segment.style.bgcolor.name == "yellow"
        ]
        assert highlighted == ["WARN"]
        pane.add_event(make_event(41, "warn"))
        pane.add_event(make_event(42, "info"))
        await pilot.pause(pane.flush_seconds + 0.05)
        assert events.shown == 5
        assert events.total == 42


async def test_search_escape_clears():
    app = PaneApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(EventsPane)
        await fill(pilot, pane, 1, 20)
        pane.event_list.focus()
        await pilot.press("slash", *"number 19")
        await pilot.pause(0.3)
        assert pane.event_list.shown == 1
        await pilot.press("escape")
        assert pane.event_list.shown == 20
        assert pane.event_list.has_focus
        assert not pane.has_class("-searching")


async def test_enter_opens_detail():
    app = PaneApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(EventsPane)
        pane.add_event(make_event(1))
        pane.add_event(make_event(2, "error", error="TypeError: boom\n  at x"))
        await pilot.pause(pane.flush_seconds + 0.05)
        pane.event_list.focus()
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, EventDetailScreen)
        assert screen.line.raw["$metadata"]["id"] == "2"
        assert json.loads(screen.text) == screen.line.raw
        summary = str(screen.query_one("#event-detail-summary", Static).render())
        assert "exception" in summary
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, EventDetailScreen)


async def test_stream_state_in_subtitle():
    app = PaneApp()
    async with app.run_test(size=SIZE):
        pane = app.query_one(EventsPane)
        pane.set_stream_state("reconnecting: attempt 2")
        assert str(pane.border_subtitle) == "reconnecting: attempt 2"


def style_of(text, part: str) -> str:
    plain = text.plain
    start = plain.index(part)
    styles = [str(span.style) for span in text.spans if span.start <= start < span.end]
    return " ".join(styles)


def test_level_colours():
    assert "red" in style_of(format_line(make_event(1, "error")), "ERROR")
    assert "yellow" in style_of(format_line(make_event(1, "warn")), "WARN")
    assert "dim" in style_of(format_line(make_event(1, "debug")), "DEBUG")
    exception = format_line(make_event(1, "error", error="boom"))
    assert " EXC " in exception.plain
    assert "on red" in style_of(exception, "EXC")


def test_failed_outcome_shown():
    line = parse_event({"$workers": {"outcome": "exceededCpu"}})
    text = format_line(line)
    assert "[exceededCpu]" in text.plain


# -- the filter dialog -------------------------------------------------------------


async def open_filters(pilot, app: PaneApp) -> FiltersScreen:
    pane = app.query_one(EventsPane)
    pane.event_list.focus()
    await pilot.press("l")
    await pilot.pause()
    assert isinstance(app.screen, FiltersScreen)
    return app.screen


def set_row(row: FilterRow, key: str, operation: str, kind: str, value: str):
    row.query_one(".filter-key", Input).value = key
    row.query_one(".filter-operation", Select).value = operation
    row.query_one(".filter-type", Select).value = kind
    row.query_one(".filter-value", Input).value = value


async def test_filter_screen_returns_valid_list():
    app = PaneApp()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_filters(pilot, app)
        await pilot.press(*"$workers.outcome")
        set_row(screen.rows()[0], "$workers.outcome", "eq", "string", "exception")
        await pilot.click("#filters-add")
        await pilot.pause()
        set_row(
            screen.rows()[1], "$workers.event.response.status", "gte", "number", "500"
        )
        screen.query_one("#filters-combination", Select).value = "or"
        await pilot.click("#filters-apply")
        await pilot.pause()
        assert not isinstance(app.screen, FiltersScreen)
        assert len(app.filter_changes) == 1
        result = app.filter_changes[0]
        assert result.combination == "or"
        assert result.filters == [
            {
                "key": "$workers.outcome",
                "operation": "eq",
                "type": "string",
                "value": "exception",
            },
            {
                "key": "$workers.event.response.status",
                "operation": "gte",
                "type": "number",
                "value": 500,
            },
        ]
        pane = app.query_one(EventsPane)
        assert pane.filters == result
        assert "2 filters" in str(pane.border_title)


async def test_filter_screen_rejects_bad_rows():
    app = PaneApp()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_filters(pilot, app)
        set_row(screen.rows()[0], "$workers.wallTimeMs", "gt", "number", "slow")
        await pilot.click("#filters-add")
        await pilot.pause()
        set_row(screen.rows()[1], "", "eq", "string", "orphan value")
        await pilot.click("#filters-apply")
        await pilot.pause()
        assert isinstance(app.screen, FiltersScreen)
        message = str(screen.query_one("#filters-message", Static).render())
        assert "Filter 1: 'slow' is not a number (type is number)" in message
        assert "Filter 2: the key is empty" in message
        assert app.filter_changes == []


async def test_filter_screen_skips_blank_rows_and_cancels():
    app = PaneApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_filters(pilot, app)
        await pilot.click("#filters-apply")
        await pilot.pause()
        assert app.filter_changes == [FilterSet([], "and")]
        await open_filters(pilot, app)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, FiltersScreen)
        assert len(app.filter_changes) == 1


async def test_filter_screen_edits_existing_and_keeps_groups():
    group = {
        "kind": "group",
        "filterCombination": "or",
        "filters": [{"key": "$a", "operation": "exists", "type": "string"}],
    }
    existing = FilterSet(
        [
            {
                "key": "$metadata.level",
                "operation": "=",
                "type": "string",
                "value": "error",
            },
            group,
        ],
        "and",
    )
    app = PaneApp(filters=existing)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_filters(pilot, app)
        row = screen.rows()[0]
        assert row.values() == ("$metadata.level", "eq", "string", "error")
        row.query_one(".filter-remove").press()
        await pilot.pause()
        assert screen.rows() == []
        await pilot.click("#filters-apply")
        await pilot.pause()
        assert app.filter_changes[-1] == FilterSet([group], "and")


async def test_filter_row_valueless_operation():
    app = PaneApp()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_filters(pilot, app)
        set_row(screen.rows()[0], "$metadata.error", "exists", "string", "")
        await pilot.click("#filters-apply")
        await pilot.pause()
        assert app.filter_changes[-1].filters == [
            {"key": "$metadata.error", "operation": "exists", "type": "string"}
        ]


async def test_show_events_replaces_content():
    app = PaneApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(EventsPane)
        await fill(pilot, pane, 1, 30)
        other = [make_event(n) for n in range(100, 105)]
        pane.show_events(other, "open: wss://example.com")
        await pilot.pause()
        events = pane.event_list
        assert events.total == 5
        assert events.line_at(0).raw["$metadata"]["id"] == "100"
        assert events.following is True
        assert str(pane.border_subtitle) == "open: wss://example.com"
        assert str(pane.border_title) == "Events (5)"
        pane.set_filters(FilterSet([{"key": "$a", "operation": "exists"}]))
        assert "1 filter" in str(pane.border_title)


def test_pane_keys_leave_screen_keys_alone():
    from tui.keys import BINDINGS as SCREEN_KEYS
    from tui.widgets.event_list import EventList
    from tui.widgets.events import SearchInput

    screen_keys = {key for key, _ in SCREEN_KEYS.values()}
    # n means "newest" in the history pane too; Escape acts only in the box;
    # / and l are the pane's own keys, which the screen offers as well.
    shared_on_purpose = {"n", "escape", "slash", "l"}
    for widget in (EventsPane, EventList, SearchInput):
        for binding in widget.BINDINGS:
            for key in binding.key.split(","):
                if key in screen_keys:
                    assert key in shared_on_purpose, (widget.__name__, key)


async def test_pane_fed_by_demo_stream():
    from tui.api import CloudflareClient
    from tui.credentials import Credential
    from tui.demo import data
    from tui.demo.server import DEMO_TOKEN, DemoServer
    from tui.stream import LiveStream

    account = data.ACCOUNTS[0]["id"]
    script = data.SCRIPTS_BY_ACCOUNT_ID[account][0]["id"]
    with DemoServer(latency=(0.0, 0.0), seed=4, event_rate=500) as demo:
        credential = Credential.api_token(DEMO_TOKEN, "the demo API")
        async with CloudflareClient(demo.base_url, credential) as client:
            result = await client.prepare_live_tail(account, script)
        app = PaneApp()
        async with app.run_test(size=SIZE) as pilot:
            pane = app.query_one(EventsPane)
            stream = LiveStream(
                result.extra["ws_url"],
                on_event=pane.add_event,
                on_state=pane.set_stream_state,
            )
            stream.start()
            try:
                await pilot.pause(0.5)
            finally:
                await stream.stop()
            await pilot.pause(pane.flush_seconds + 0.05)
            assert pane.event_list.total == stream.received
            assert pane.event_list.total > 20
            assert str(pane.border_subtitle) == "closed: stopped"
