"""The history pane: one row per beat, newest first, drawn line by line.

The pane is a Line API widget: its virtual height is the number of beats in
view, and only the rows on screen are rendered. BeatPages (tui.history)
reads those rows from the store a page at a time and keeps a few pages, so
scrolling to any depth costs at most one page query and never a rebuild.

The rows in view are the beats with an id at or below a ceiling. While the
cursor is on the newest row with the view at the top, the pane follows: a
new beat raises the ceiling and appears at the top. Otherwise new beats are
counted in the title and the rows stay still; ``n`` returns to the newest.
"""

from __future__ import annotations

from functools import lru_cache

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.history import Beat, BeatPages, HistoryStore
from tui.text import local_date, local_time, plural

# Column titles and widths in cells; the message takes the rest of the row.
COLUMNS = (("#", 6), ("Time", 8), ("HTTP", 4), ("Latency", 8), ("Outcome", 13))
# The blank cell before the first column and between columns. DataTable puts
# two between columns, and one leaves the message five more cells.
GAP = " "

OUTCOME_STYLES = {
    "ok": "green",
    "rate_limited": "yellow",
    "server_error": "yellow",
    "timeout": "yellow",
    "network_error": "yellow",
    "bad_response": "yellow",
}
FAILURE_STYLE = "bold red"


def _cell(value: str, width: int, right: bool = False) -> str:
    """Pad or cut ``value`` to ``width`` cells (single-width characters only)."""
    return f"{value:>{width}.{width}}" if right else f"{value:<{width}.{width}}"


def _fit(text: str, width: int) -> str:
    """Pad ``text`` to ``width`` cells, or cut it there with an ellipsis."""
    length = cell_len(text)
    if length <= width:
        return text + " " * (width - length)
    if width < 1:
        return ""
    return set_cell_size(text, width - 1) + "…"


def header_cells(number_width: int) -> str:
    """Return the column titles as one line, aligned with row_segments."""
    columns = [("#", number_width), *COLUMNS[1:]]
    cells = [_cell(title, width) for title, width in columns]
    return GAP + GAP.join([*cells, "Message"])


def row_segments(
    beat: Beat, number_width: int, width: int, style: Style
) -> list[Segment]:
    """Return one beat as a line ``width`` cells wide, drawn over ``style``.

    The outcome has its colour, and so has the message of a failed beat.
    """
    number = beat.seq if beat.seq is not None else beat.id
    status = "—" if beat.http_status is None else str(beat.http_status)
    cells = [
        _cell(str(number), number_width),
        _cell(local_time(beat.time), 8),
        _cell(status, 4),
        _cell(f"{beat.latency_ms:.0f} ms", 8, right=True),
    ]
    plain = GAP + GAP.join(cells) + GAP
    outcome = _cell(beat.outcome, 13) + GAP
    outcome_style = style + _outcome_style(beat.outcome)
    # One line per row: line breaks and tabs in a message become spaces.
    message = " ".join(beat.message.split())
    room = width - len(plain) - len(outcome)
    return [
        Segment(plain, style),
        Segment(outcome, outcome_style),
        Segment(_fit(message, room), style if beat.ok else outcome_style),
    ]


@lru_cache(maxsize=16)
def _outcome_style(outcome: str) -> Style:
    return Style.parse(OUTCOME_STYLES.get(outcome, FAILURE_STYLE))


class HistoryTable(ScrollView, can_focus=True):
    """Beats of one session: number, time, HTTP status, latency, outcome, message.

    Line 0 of the content is the column header, which does not scroll. The
    virtual height is the rows in view plus that line.
    """

    # As in DataTable, the mouse moves the cursor and does not select text.
    ALLOW_SELECT = False

    # No letters but n: a letter here would shadow a screen binding that the
    # user remapped to it, because the pane has the focus.
    BINDINGS = [
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "Newest row", show=False),
        Binding("end", "last", "Oldest row", show=False),
        Binding("n", "newest", "Newest", id="history_newest"),
    ]

    COMPONENT_CLASSES = {"history-table--header", "history-table--cursor"}

    DEFAULT_CSS = """
    HistoryTable {
        height: 1fr;
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        overflow-y: auto;
        &:focus {
            background-tint: $foreground 5%;
        }
        & > .history-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .history-table--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .history-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .history-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        /* Without colours a background does not show: mark the cursor row. */
        &:nocolor > .history-table--cursor {
            text-style: reverse;
        }
        &:nocolor > .history-table--header {
            text-style: bold underline;
        }
    }
    """

    def __init__(self, store: HistoryStore, session_id: int | None, **kw):
        super().__init__(**kw)
        self.store = store
        self.session_id = session_id
        self.failures_only = False
        self.border_title = "History"
        self._pages = BeatPages(store)
        # Row of the cursor, 0 being the newest beat in view.
        self.cursor = 0
        self.following = True
        # Beats in view stored since the pane stopped following.
        self.waiting = 0
        # Beats of the session, failures or not.
        self.total = 0
        # Row id of the newest beat seen, shown or waiting.
        self._newest_id = 0
        self._number_width = COLUMNS[0][1]
        self._header: Strip | None = None
        self._row_styles: tuple[Style, Style] | None = None

    # -- content -------------------------------------------------------------

    @property
    def row_count(self) -> int:
        """Rows in view: the beats at or below the ceiling that pass the filter."""
        return self._pages.rows

    def beat_at(self, index: int) -> Beat | None:
        """Return the beat on row ``index`` (0 is the newest in view), or None."""
        return self._pages.beat(index)

    @property
    def cursor_beat(self) -> Beat | None:
        return self._pages.beat(self.cursor)

    def on_mount(self) -> None:
        self.show_newest()

    def show_session(self, session_id: int | None) -> None:
        """Show another session's history, from its newest beat."""
        self.session_id = session_id
        self.show_newest()

    def set_failures_only(self, failures_only: bool) -> None:
        self.failures_only = failures_only
        self.show_newest()

    def show_newest(self) -> None:
        """Reload the view from the store with the cursor on the newest beat."""
        rows = 0
        self.total = 0
        self._newest_id = 0
        if self.session_id is not None:
            self._newest_id = self.store.newest_id(self.session_id) or 0
            self.total = self.store.count(self.session_id)
            rows = self.total
            if self.failures_only:
                rows = self.store.count(self.session_id, failures_only=True)
        self._pages.reset(self.session_id, self.failures_only, self._newest_id, rows)
        self._set_number_width()
        self.cursor = 0
        self.following = True
        self.waiting = 0
        self._update_size()
        self._scroll_y_to(0)
        self.refresh()
        self._update_title()
        self._update_date()

    def action_newest(self) -> None:
        self.show_newest()

    def add_beat(self, beat: Beat) -> None:
        """Show a new beat at the top, or count it while scrolled back."""
        if beat.session_id != self.session_id:
            return
        # Without an id the beat never reached the database (a failed write),
        # and an id at or below the newest seen is already counted.
        if beat.id is None or beat.id <= self._newest_id:
            return
        self._newest_id = beat.id
        self.total += 1
        if self.failures_only and beat.ok:
            self._update_title()
            return
        if not self.following:
            self.waiting += 1
            self._update_title()
            return
        self._raise_ceiling(1)
        self._update_title()
        self._update_date()

    def _raise_ceiling(self, added: int) -> None:
        """Take ``added`` rows stored after the ceiling into view at the top."""
        self._pages.raise_ceiling(self._newest_id, self.row_count + added)
        self._set_number_width()
        self._update_size()
        # Every row moves down, so the whole pane is stale.
        self.refresh()

    def _set_number_width(self) -> None:
        # A beat's number within its session is at most its row id, so the
        # ceiling's digits fit every number in view.
        width = max(COLUMNS[0][1], len(str(self._pages.ceiling)))
        if width != self._number_width:
            self._number_width = width
            self._header = None

    def _update_size(self) -> None:
        width = max(1, self.scrollable_content_region.width)
        self.virtual_size = Size(width, self.row_count + 1)

    def _update_title(self) -> None:
        title = f"History ({plural(self.total, 'beat')})"
        if self.failures_only:
            title += " · failures only: press f for all"
        if not self.following:
            title += f" · scrolled back, {self.waiting} new: press n"
        # Textual repaints the whole pane whenever border_title is set, even
        # to the same text.
        if title != self.border_title:
            self.border_title = title

    def _update_date(self) -> None:
        """Show the date of the cursor's beat under the pane.

        The Time column has no date, and a long history spans days.
        """
        beat = self.cursor_beat
        subtitle = "" if beat is None else local_date(beat.time)
        # As with the title, setting the subtitle repaints the whole pane.
        if subtitle != self.border_subtitle:
            self.border_subtitle = subtitle

    # -- rendering -----------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:
            return self._header_strip(width)
        base, cursor = self._styles()
        index = self.scroll_offset.y + y - 1
        beat = self._pages.beat(index)
        if beat is None:
            return Strip.blank(width, base)
        # Rows are built on every call. A cached Strip lives long enough to
        # reach the oldest GC generation, and Textual's caches make it refer to
        # itself, so only full collections free it: 35 ms each with 256 cached
        # rows, 13 ms without (history benchmark, 2-core VM).
        style = cursor if index == self.cursor else base
        segments = row_segments(beat, self._number_width, width, style)
        return Strip(segments).crop_extend(0, width, base)

    def _styles(self) -> tuple[Style, Style]:
        """Return the style of a row and of the cursor row.

        Both are computed once per style change, not once per line.
        """
        if self._row_styles is None:
            base = self.rich_style
            cursor = base + self.get_component_rich_style("history-table--cursor")
            self._row_styles = (base, cursor)
        return self._row_styles

    def _header_strip(self, width: int) -> Strip:
        if self._header is None or self._header.cell_length != width:
            style = self.rich_style + self.get_component_rich_style(
                "history-table--header"
            )
            text = _fit(header_cells(self._number_width), width)
            self._header = Strip([Segment(text, style)], width)
        return self._header

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._header = None
        self._row_styles = None

    def on_resize(self, event: events.Resize) -> None:
        self._update_size()
        self._scroll_cursor_into_view()

    # -- the cursor and following ----------------------------------------------

    @property
    def _page_rows(self) -> int:
        """Rows on screen below the header."""
        return max(1, self.scrollable_content_region.height - 1)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._check_following()

    def _check_following(self) -> None:
        """Follow again once the cursor and the view are back at the top."""
        following = self.cursor == 0 and round(self.scroll_y) == 0
        if following == self.following:
            return
        self.following = following
        if following and self.waiting:
            self._raise_ceiling(self.waiting)
        self.waiting = 0
        self._update_title()

    def _move_cursor(self, index: int, scroll_by: int = 0) -> None:
        """Move the cursor to row ``index`` and scroll it into view.

        The view first scrolls by ``scroll_by`` rows, as Page Up and Page Down
        do, so the cursor keeps its place on screen.
        """
        if not self.row_count:
            return
        old = self.cursor
        self.cursor = max(0, min(self.row_count - 1, index))
        if scroll_by:
            self._scroll_y_to(self.scroll_y + scroll_by)
        self._scroll_cursor_into_view()
        # Line 0 is the header, so row i is virtual line i + 1.
        self.refresh_line(old + 1)
        self.refresh_line(self.cursor + 1)
        self._check_following()
        self._update_date()

    def _scroll_y_to(self, y: float) -> None:
        # force: before the first layout the scrollbar does not exist yet,
        # and without it Textual ignores a scroll.
        self.scroll_to(y=y, animate=False, immediate=True, force=True)

    def _scroll_cursor_into_view(self) -> None:
        top = round(self.scroll_y)
        if self.cursor < top:
            self._scroll_y_to(self.cursor)
        elif self.cursor >= top + self._page_rows:
            self._scroll_y_to(self.cursor - self._page_rows + 1)

    def action_cursor_up(self) -> None:
        self._move_cursor(self.cursor - 1)

    def action_cursor_down(self) -> None:
        self._move_cursor(self.cursor + 1)

    def action_page_up(self) -> None:
        self._move_cursor(self.cursor - self._page_rows, -self._page_rows)

    def action_page_down(self) -> None:
        self._move_cursor(self.cursor + self._page_rows, self._page_rows)

    def action_first(self) -> None:
        self._move_cursor(0)

    def action_last(self) -> None:
        self._move_cursor(self.row_count - 1)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y == 0:
            return
        index = round(self.scroll_y) + offset.y - 1
        if index < self.row_count:
            self._move_cursor(index)
