"""The history pane draws beats line by line from pages read from the database."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from textual.app import App, ComposeResult

from tui.history import PAGE_ROWS, Beat, BeatPages, HistoryStore
from tui.text import local_date
from tui.widgets.history import HistoryTable

REPO = Path(__file__).resolve().parent.parent


def fill(store: HistoryStore, session_id: int, count: int) -> None:
    """Store ``count`` more beats, of which every tenth, from the first, fails."""
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


def add(store: HistoryStore, table: HistoryTable, session_id: int, count: int):
    """Store ``count`` more beats and pass each to the pane, as the app does."""
    for _ in range(count):
        fill(store, session_id, 1)
        table.add_beat(store.beats(session_id, 1)[0])


def new_store(count: int) -> tuple[HistoryStore, int]:
    store = HistoryStore(None)
    session_id = store.start_session("a" * 32, "Acme", "api")
    fill(store, session_id, count)
    return store, session_id


class HistoryApp(App[None]):
    def __init__(self, store: HistoryStore, session_id: int | None):
        super().__init__()
        self.store = store
        self.session_id = session_id

    def compose(self) -> ComposeResult:
        yield HistoryTable(self.store, self.session_id)


class StyledHistoryApp(HistoryApp):
    """The pane with the app's style sheet and id, as the session screen has it."""

    CSS_PATH = REPO / "styles" / "app.tcss"

    def compose(self) -> ComposeResult:
        yield HistoryTable(self.store, self.session_id, id="history")


def seq(beat: Beat | None) -> int | None:
    return None if beat is None else beat.seq


def on_screen(table: HistoryTable) -> list[int | None]:
    """Return the numbers of the rows on screen, top to bottom."""
    rows = table.scrollable_content_region.height - 1
    top = table.scroll_offset.y
    return [seq(table.beat_at(top + i)) for i in range(rows)]


def line_text(table: HistoryTable, y: int) -> str:
    return "".join(segment.text for segment in table.render_line(y))


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch):
    """Show times in UTC, so rendered rows do not depend on the machine."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


# -- opening and following ------------------------------------------------------


async def test_opens_on_newest_beat():
    store, session_id = new_store(1500)
    app = HistoryApp(store, session_id)
    async with app.run_test(size=(100, 30)):
        table = app.query_one(HistoryTable)
        assert table.row_count == 1500
        assert table.cursor == 0
        assert seq(table.cursor_beat) == 1500
        # 30 lines: the header, then 29 rows.
        assert on_screen(table) == list(range(1500, 1500 - 29, -1))
        assert seq(table.beat_at(1499)) == 1
        assert table.beat_at(1500) is None
        assert table.following is True
        assert table.border_title == "History (1,500 beats)"


async def test_header_shows_column_titles():
    store, session_id = new_store(10)
    app = HistoryApp(store, session_id)
    async with app.run_test(size=(100, 30)):
        header = line_text(app.query_one(HistoryTable), 0)
        for title in ("#", "Time", "HTTP", "Latency", "Outcome", "Message"):
            assert title in header
        assert header.index("Time") < header.index("Message")


async def test_no_session_shows_no_rows():
    store, _ = new_store(10)
    app = HistoryApp(store, None)
    async with app.run_test(size=(100, 30)):
        table = app.query_one(HistoryTable)
        assert table.row_count == 0
        assert table.cursor_beat is None
        assert table.border_title == "History (0 beats)"


async def test_following_shows_new_beat_on_top():
    store, session_id = new_store(10)
    app = HistoryApp(store, session_id)
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(HistoryTable)
        add(store, table, session_id, 5)
        await pilot.pause()
        assert table.row_count == 15
        assert on_screen(table)[:15] == list(range(15, 0, -1))
        assert seq(table.cursor_beat) == 15
        assert "15" in line_text(table, 1)
        assert table.border_title == "History (15 beats)"


async def test_beat_of_other_session_ignored():
    store, session_id = new_store(10)
    other = store.start_session("b" * 32, "Beta", "api")
    app = HistoryApp(store, session_id)
    async with app.run_test(size=(100, 30)):
        table = app.query_one(HistoryTable)
        add(store, table, other, 1)
        assert table.row_count == 10
        assert table.total == 10


async def test_beat_counted_once():
    store, session_id = new_store(10)
    app = HistoryApp(store, session_id)
    async with app.run_test(size=(100, 30)):
        table = app.query_one(HistoryTable)
        newest = store.beats(session_id, 1)[0]
        table.add_beat(newest)
        assert table.row_count == 10
        assert table.total == 10


async def test_show_session_switches_history():
    store, first = new_store(30)
    second = store.start_session("b" * 32, "Beta", "api")
    fill(store, second, 7)
    app = HistoryApp(store, first)
    async with app.run_test(size=(100, 30)):
        table = app.query_one(HistoryTable)
        table.action_last()
        table.show_session(second)
        assert table.row_count == 7
        assert table.cursor == 0
        assert seq(table.cursor_beat) == 7
        assert table.border_title == "History (7 beats)"


# -- paging ------------------------------------------------------------------


async def test_page_down_reaches_oldest_of_5000():
    store, session_id = new_store(5000)
    app = HistoryApp(store, session_id)
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(HistoryTable)
        table.focus()
        page = table.scrollable_content_region.height - 1
        await pilot.press("pagedown")
        assert table.cursor == page
        assert seq(table.cursor_beat) == 5000 - page
        while table.cursor < table.row_count - 1:
            before = table.cursor
            table.action_page_down()
            assert seq(table.cursor_beat) == 5000 - table.cursor
            assert table.cursor > before
        assert seq(table.cursor_beat) == 1
        assert on_screen(table) == list(range(page, 0, -1))
        assert table.following is False


async def test_end_and_page_up_at_oldest():
    store, session_id = new_store(5000)
    app = HistoryApp(store, session_id)
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(HistoryTable)
        table.focus()
        page = table.scrollable_content_region.height - 1
        await pilot.press("end")
        assert seq(table.cursor_beat) == 1
        assert on_screen(table)[-1] == 1
        await pilot.press("pageup", "up")
        assert seq(table.cursor_beat) == 2 + page
        await pilot.pause()
        assert line_text(table, 1).split()[0] == str(on_screen(table)[0])
        assert on_screen(table) == sorted(on_screen(table), reverse=True)


async def test_header_stays_when_scrolled():
    store, session_id = new_store(500)
    app = HistoryApp(store, session_id)
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(HistoryTable)
        table.focus()
        await pilot.press("pagedown", "pagedown")
        assert table.scroll_offset.y > 0
        assert line_text(table, 0).split()[:2] == ["#", "Time"]
        first_row = table.scroll_offset.y
        assert line_text(table, 1).split()[0] == str(500 - first_row)


# -- scrolled back --------------------------------------------------------------


async def test_new_beats_wait_while_scrolled_back():
    store, session_id = new_store(1500)
    app = HistoryApp(store, session_id)
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(HistoryTable)
        table.focus()
        await pilot.press("pagedown", "pagedown", "down")
        assert table.following is False
        cursor_before = table.cursor
        beat_before = table.cursor_beat
        rows_before = on_screen(table)
        add(store, table, session_id, 3)
        await pilot.pause()
        assert table.cursor == cursor_before
        assert table.cursor_beat == beat_before
        assert on_screen(table) == rows_before
        assert table.row_count == 1500
        assert table.total == 1503
        assert table.waiting == 3
        assert table.border_title == (
            "History (1,503 beats) · scrolled back, 3 new: press n"
        )
        await pilot.press("n")
        assert table.following is True
        assert table.cursor == 0
        assert seq(table.cursor_beat) == 1503
        assert table.row_count == 1503
        assert table.border_title == "History (1,503 beats)"


async def test_moving_off_newest_row_stops_following():
    store, session_id = new_store(100)
    app = HistoryApp(store, session_id)
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(HistoryTable)
        table.focus()
        await pilot.press("down")
        assert table.following is False
        assert table.border_title == (
            "History (100 beats) · scrolled back, 0 new: press n"
        )
        add(store, table, session_id, 1)
        assert seq(table.beat_at(0)) == 100
        assert seq(table.cursor_beat) == 99


async def test_back_on_top_shows_waiting_beats():
    store, session_id = new_store(100)
    app = HistoryApp(store, session_id)
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(HistoryTable)
        table.focus()
        await pilot.press("down", "down")
        add(store, table, session_id, 2)
        await pilot.press("home")
        assert table.following is True
        assert table.waiting == 0
        assert table.row_count == 102
        assert seq(table.cursor_beat) == 102
        assert table.border_title == "History (102 beats)"


async def test_wheel_scroll_back_holds_rows():
    store, session_id = new_store(300)
    app = HistoryApp(store, session_id)
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(HistoryTable)
        table.scroll_to(y=40, animate=False)
        await pilot.pause()
        assert table.following is False
        rows_before = on_screen(table)
        add(store, table, session_id, 1)
        assert on_screen(table) == rows_before
        assert table.waiting == 1
        table.scroll_to(y=0, animate=False)
        await pilot.pause()
        assert table.following is True
        assert on_screen(table)[0] == 301


# -- failures only ----------------------------------------------------------------


async def test_failures_only_counts_failed_beats():
    store, session_id = new_store(100)
    app = HistoryApp(store, session_id)
    async with app.run_test(size=(100, 30)):
        table = app.query_one(HistoryTable)
        table.set_failures_only(True)
        assert table.failures_only is True
        assert table.row_count == 10
        assert on_screen(table)[:10] == list(range(91, 0, -10))
        assert table.beat_at(10) is None
        assert table.total == 100
        assert table.border_title == (
            "History (100 beats) · failures only: press f for all"
        )
        # Beat 101 fails, beat 102 does not.
        add(store, table, session_id, 2)
        assert table.row_count == 11
        assert seq(table.cursor_beat) == 101
        assert table.total == 102
        table.set_failures_only(False)
        assert table.row_count == 102


async def test_failures_only_waiting_counts_failures():
    store, session_id = new_store(100)
    app = HistoryApp(store, session_id)
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(HistoryTable)
        table.focus()
        table.set_failures_only(True)
        await pilot.press("down")
        add(store, table, session_id, 11)
        assert table.waiting == 2
        assert table.row_count == 10
        await pilot.press("n")
        assert table.row_count == 12
        assert seq(table.cursor_beat) == 111


# -- the cursor and rendering -------------------------------------------------------


async def test_cursor_row_has_cursor_style():
    store, session_id = new_store(50)
    app = HistoryApp(store, session_id)
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(HistoryTable)
        table.focus()
        await pilot.press("down", "down")
        await pilot.pause()
        cursor_style = table.get_component_rich_style("history-table--cursor")
        assert cursor_style.bgcolor is not None
        cursor_line = list(table.render_line(3))
        other_line = list(table.render_line(2))
        assert cursor_line[0].text.split()[0] == "48"
        assert cursor_line[0].style.bgcolor == cursor_style.bgcolor
        assert other_line[0].style.bgcolor != cursor_style.bgcolor


async def test_click_moves_cursor_to_row():
    store, session_id = new_store(50)
    app = HistoryApp(store, session_id)
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(HistoryTable)
        await pilot.click(HistoryTable, offset=(10, 4))
        assert table.cursor == 3
        assert seq(table.cursor_beat) == 47
        await pilot.click(HistoryTable, offset=(10, 0))
        assert table.cursor == 3


async def test_cursor_move_repaints_two_lines(monkeypatch: pytest.MonkeyPatch):
    store, session_id = new_store(50)
    app = HistoryApp(store, session_id)
    painted: list[int] = []
    render_line = HistoryTable.render_line

    def counting(self: HistoryTable, y: int):
        painted.append(y)
        return render_line(self, y)

    monkeypatch.setattr(HistoryTable, "render_line", counting)
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(HistoryTable)
        table.focus()
        # The first move off the newest row changes the title, and that
        # repaints the whole pane. The second move changes only two rows.
        await pilot.press("down")
        await pilot.pause()
        painted.clear()
        await pilot.press("down")
        await pilot.pause()
        assert sorted(set(painted)) == [2, 3]


async def test_idle_pane_is_not_repainted(monkeypatch: pytest.MonkeyPatch):
    store, session_id = new_store(50)
    app = HistoryApp(store, session_id)
    painted: list[int] = []
    render_line = HistoryTable.render_line

    def counting(self: HistoryTable, y: int):
        painted.append(y)
        return render_line(self, y)

    monkeypatch.setattr(HistoryTable, "render_line", counting)
    async with app.run_test(size=(100, 30)) as pilot:
        app.query_one(HistoryTable).focus()
        await pilot.pause()
        assert painted
        painted.clear()
        await pilot.pause(0.5)
        assert painted == []


async def test_gap_note_shown_in_message():
    store, session_id = new_store(5)
    app = HistoryApp(store, session_id)
    async with app.run_test(size=(120, 30)):
        table = app.query_one(HistoryTable)
        gap = store.add_beat(
            Beat(
                session_id=session_id,
                time=1_700_000_100,
                ok=True,
                http_status=200,
                latency_ms=40.0,
                outcome="ok",
                message="gap of 2 h (app closed) · heartbeat accepted",
                gap_s=7200.0,
                seq=6,
            )
        )
        table.add_beat(gap)
        assert "gap of 2 h (app closed) · heartbeat accepted" in line_text(table, 1)


async def test_long_message_cut_with_ellipsis():
    store, session_id = new_store(0)
    store.add_beat(
        Beat(
            session_id=session_id,
            time=1_700_000_000,
            ok=False,
            http_status=None,
            latency_ms=10_000.0,
            outcome="timeout",
            message="no complete reply within 10 s " * 10,
            seq=1,
        )
    )
    app = HistoryApp(store, session_id)
    async with app.run_test(size=(80, 10)):
        table = app.query_one(HistoryTable)
        line = line_text(table, 1)
        width = table.scrollable_content_region.width
        assert len(line) == width
        assert line.endswith("…")
        assert " timeout " in line


async def test_cursor_marked_without_colour(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("NO_COLOR", "1")
    store, session_id = new_store(10)
    app = HistoryApp(store, session_id)
    async with app.run_test(size=(100, 30)):
        table = app.query_one(HistoryTable)
        assert table.get_component_rich_style("history-table--cursor").reverse


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
async def test_cursor_visible_in_theme(theme: str):
    store, session_id = new_store(10)
    app = HistoryApp(store, session_id)
    async with app.run_test(size=(100, 30)) as pilot:
        app.theme = theme
        table = app.query_one(HistoryTable)
        table.focus()
        await pilot.pause()
        cursor = list(table.render_line(1))[0].style
        row = list(table.render_line(2))[0].style
        assert cursor.bgcolor is not None
        assert cursor.bgcolor != row.bgcolor


# -- snapshots -------------------------------------------------------------------


def _snapshot_store() -> tuple[HistoryStore, int]:
    """A session of 30 beats: every tenth, from the third, times out, and
    the 25th comes after a gap of two hours."""
    store = HistoryStore(None)
    session_id = store.start_session("a" * 32, "Acme", "api")
    for n in range(1, 31):
        failed = n % 10 == 3
        message = "no complete reply within 10 s" if failed else "heartbeat accepted"
        if n == 25:
            message = "gap of 2 h 5 min (app closed) · " + message
        store.add_beat(
            Beat(
                session_id=session_id,
                time=1_700_000_000 + n * 30 + (7500 if n >= 25 else 0),
                ok=not failed,
                http_status=None if failed else 200,
                latency_ms=10_000.0 if failed else 40.0 + n % 7,
                outcome="timeout" if failed else "ok",
                message=message,
                gap_s=7530.0 if n == 25 else None,
                seq=n,
            )
        )
    return store, session_id


@pytest.mark.parametrize("size", [(80, 24), (60, 20)], ids=["80x24", "60x20"])
def test_history_pane_snapshot(snap_compare, utc, size: tuple[int, int]):
    store, session_id = _snapshot_store()

    async def scroll_back(pilot) -> None:
        table = pilot.app.query_one(HistoryTable)
        table.focus()
        await pilot.press(*["down"] * 6)
        table.add_beat(
            store.add_beat(
                Beat(
                    session_id=session_id,
                    time=1_700_008_500,
                    ok=True,
                    http_status=200,
                    latency_ms=41.0,
                    outcome="ok",
                    message="heartbeat accepted",
                    seq=31,
                )
            )
        )
        await pilot.pause()

    app = StyledHistoryApp(store, session_id)
    assert snap_compare(app, terminal_size=size, run_before=scroll_back)


# -- the store ---------------------------------------------------------------------


def test_beats_page_offsets_from_either_end():
    store, session_id = new_store(30)
    ceiling = store.newest_id(session_id)
    assert ceiling is not None
    newest = store.beats_page(session_id, 5, 3, ceiling=ceiling)
    assert [beat.seq for beat in newest] == [25, 24, 23]
    oldest = store.beats_page(session_id, 5, 3, ceiling=ceiling, oldest_first=True)
    assert [beat.seq for beat in oldest] == [6, 7, 8]
    below = store.beats_page(session_id, 0, 2, ceiling=ceiling - 10)
    assert [beat.seq for beat in below] == [20, 19]
    failed = store.beats_page(session_id, 1, 5, ceiling=ceiling, failures_only=True)
    assert [beat.seq for beat in failed] == [11, 1]


def test_count_and_newest_id():
    store, session_id = new_store(30)
    assert store.count(session_id) == 30
    assert store.count(session_id, failures_only=True) == 3
    newest = store.beats(session_id, 1)[0]
    assert store.newest_id(session_id) == newest.id
    empty = store.start_session("b" * 32, "Beta", "api")
    assert store.newest_id(empty) is None


def test_old_database_gets_failures_index(tmp_path: Path):
    path = tmp_path / "history.db"
    store = HistoryStore(path)
    store.close()
    db = sqlite3.connect(path)
    db.execute("DROP INDEX beats_failed")
    db.close()
    HistoryStore(path).close()
    db = sqlite3.connect(path)
    names = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    db.close()
    assert "beats_failed" in names


def counting_pages(
    store: HistoryStore, session_id: int, monkeypatch: pytest.MonkeyPatch
) -> tuple[BeatPages, list[int]]:
    """Return pages of the whole session and the offsets of each store query."""
    queries: list[int] = []
    beats_page = store.beats_page

    def counting(session_id: int, offset: int, limit: int, **kw):
        queries.append(offset)
        return beats_page(session_id, offset, limit, **kw)

    monkeypatch.setattr(store, "beats_page", counting)
    pages = BeatPages(store)
    newest = store.newest_id(session_id)
    assert newest is not None
    pages.reset(session_id, False, newest, store.count(session_id))
    return pages, queries


def test_beat_pages_read_each_page_once(monkeypatch: pytest.MonkeyPatch):
    store, session_id = new_store(5000)
    pages, queries = counting_pages(store, session_id, monkeypatch)
    for index in range(5000):
        assert seq(pages.beat(index)) == 5000 - index
    assert len(queries) == 5000 // PAGE_ROWS
    # No query skips more than half the rows: each page is read from its
    # nearer end.
    assert max(queries) <= 2500
    assert seq(pages.beat(4999)) == 1
    assert len(queries) == 5000 // PAGE_ROWS
    # Row 0 was in the first page read, evicted once PAGES_KEPT more were.
    assert seq(pages.beat(0)) == 5000
    assert len(queries) == 5000 // PAGE_ROWS + 1
    assert pages.beat(5000) is None
    assert pages.beat(-1) is None


def test_beat_pages_raise_ceiling(monkeypatch: pytest.MonkeyPatch):
    store, session_id = new_store(150)
    pages, queries = counting_pages(store, session_id, monkeypatch)
    assert seq(pages.beat(0)) == 150
    assert seq(pages.beat(149)) == 1
    assert len(queries) == 2
    fill(store, session_id, 1)
    newest = store.newest_id(session_id)
    assert newest is not None
    assert seq(pages.beat(0)) == 150
    pages.raise_ceiling(newest, 151)
    assert seq(pages.beat(150)) == 1
    assert len(queries) == 2
    assert seq(pages.beat(0)) == 151
    assert seq(pages.beat(1)) == 150
    assert len(queries) == 3


async def test_subtitle_shows_the_cursor_row_date():
    store = HistoryStore(None)
    session_id = store.start_session("a" * 32, "Acme", "api")
    day = 24 * 3600
    newest = time.time()
    for n in range(3):
        # Two days apart, oldest first.
        store.add_beat(
            Beat(
                session_id=session_id,
                time=newest - (2 - n) * 2 * day,
                ok=True,
                http_status=200,
                latency_ms=50.0,
                outcome="ok",
                message="heartbeat accepted",
                seq=n + 1,
            )
        )
    app = HistoryApp(store, session_id)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(HistoryTable)
        assert table.border_subtitle == local_date(newest)

        await pilot.press("down")
        assert table.border_subtitle == local_date(newest - 2 * day)

        await pilot.press("end")
        assert table.border_subtitle == local_date(newest - 4 * day)
