"""The history pane pages beats from the database inside a bounded window."""

from __future__ import annotations

from textual.app import App, ComposeResult

from tui.history import Beat, HistoryStore
from tui.widgets.history import PAGE, WINDOW, HistoryTable


def fill(store: HistoryStore, session_id: int, count: int) -> None:
    start = store.count(session_id)
    for n in range(start, start + count):
        store.add_beat(
            Beat(
                session_id=session_id,
                time=1_700_000_000 + n,
                ok=n % 10 != 0,
                http_status=200 if n % 10 else 503,
                latency_ms=50.0,
                outcome="ok" if n % 10 else "server_error",
                message="heartbeat accepted" if n % 10 else "HTTP 503",
                seq=n + 1,
            )
        )


class HistoryApp(App[None]):
    def __init__(self, store: HistoryStore, session_id: int):
        super().__init__()
        self.store = store
        self.session_id = session_id

    def compose(self) -> ComposeResult:
        yield HistoryTable(self.store, self.session_id)


def numbers(table: HistoryTable) -> list[int]:
    return [table.get_row_at(i)[0] for i in range(table.row_count)]


async def test_opens_on_newest_page():
    store = HistoryStore(None)
    session_id = store.start_session("a" * 32, "Acme", "api")
    fill(store, session_id, 1500)
    app = HistoryApp(store, session_id)
    async with app.run_test(size=(100, 30)):
        table = app.query_one(HistoryTable)
        shown = numbers(table)
        assert len(shown) == PAGE
        assert shown[0] == 1500
        assert shown == sorted(shown, reverse=True)
        assert "1500 beats" in str(table.border_title)


async def test_scrolling_down_pages_older_within_window():
    store = HistoryStore(None)
    session_id = store.start_session("a" * 32, "Acme", "api")
    fill(store, session_id, 1500)
    app = HistoryApp(store, session_id)
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(HistoryTable)
        table.focus()
        for _ in range(10):
            table.move_cursor(row=table.row_count - 1)
            await pilot.pause()
        shown = numbers(table)
        assert len(shown) <= WINDOW
        assert min(shown) == 1
        assert table.following is False
        assert shown == list(range(max(shown), 0, -1))


async def test_new_beats_wait_while_scrolled_back():
    store = HistoryStore(None)
    session_id = store.start_session("a" * 32, "Acme", "api")
    fill(store, session_id, 1500)
    app = HistoryApp(store, session_id)
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(HistoryTable)
        table.focus()
        for _ in range(10):
            table.move_cursor(row=table.row_count - 1)
            await pilot.pause()
        fill(store, session_id, 1)
        table.add_beat(store.beats(session_id, 1)[0])
        assert "1 new" in str(table.border_title)
        await pilot.press("n")
        assert table.following is True
        assert numbers(table)[0] == 1501


async def test_following_window_drops_oldest():
    store = HistoryStore(None)
    session_id = store.start_session("a" * 32, "Acme", "api")
    fill(store, session_id, 10)
    app = HistoryApp(store, session_id)
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(HistoryTable)
        for _ in range(WINDOW):
            fill(store, session_id, 1)
            table.add_beat(store.beats(session_id, 1)[0])
        await pilot.pause()
        shown = numbers(table)
        assert len(shown) == WINDOW
        assert shown[0] == WINDOW + 10


async def test_failures_only_shows_failed_beats():
    store = HistoryStore(None)
    session_id = store.start_session("a" * 32, "Acme", "api")
    fill(store, session_id, 100)
    app = HistoryApp(store, session_id)
    async with app.run_test(size=(100, 30)):
        table = app.query_one(HistoryTable)
        table.set_failures_only(True)
        shown = numbers(table)
        assert len(shown) == 10
        assert all(number % 10 == 1 for number in shown)
        assert "failures only" in str(table.border_title)
