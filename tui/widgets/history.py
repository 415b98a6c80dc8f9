"""The history pane: one row per beat, newest first, paged from the database.

The table contains a window of at most WINDOW rows. Moving the cursor onto the
last row loads the next older page from the store. When the window is full,
rows at the other end are dropped. While the newest beats are out of the
window, new beats are counted in the title instead of shown, and ``n``
returns to the newest.
"""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from tui.history import Beat, HistoryStore
from tui.text import local_time, plural

WINDOW = 400
PAGE = 200

OUTCOME_STYLES = {
    "ok": "green",
    "rate_limited": "yellow",
    "server_error": "yellow",
    "timeout": "yellow",
    "network_error": "yellow",
    "bad_response": "yellow",
}


class HistoryTable(DataTable):
    """Beats of one session: time, HTTP status, latency, outcome, message."""

    BINDINGS = [Binding("n", "newest", "Newest", id="history_newest")]

    def __init__(self, store: HistoryStore, session_id: int | None, **kw):
        super().__init__(cursor_type="row", zebra_stripes=False, **kw)
        self.store = store
        self.session_id = session_id
        self.failures_only = False
        self.border_title = "History"
        # (beat id, number in the session) of the rows shown, and the beats.
        self._rows: list[tuple[int, int]] = []
        self._beats: dict[int, Beat] = {}
        self.following = True
        self.waiting = 0
        self.total = 0

    def on_mount(self) -> None:
        self.add_column("#", key="seq", width=6)
        self.add_column("Time", key="time", width=8)
        self.add_column("HTTP", key="status", width=4)
        self.add_column("Latency", key="latency", width=8)
        self.add_column("Outcome", key="outcome", width=13)
        self.add_column("Message", key="message")
        self.show_newest()

    def show_session(self, session_id: int | None) -> None:
        """Show another session's history, from its newest beat."""
        self.session_id = session_id
        self.show_newest()

    def set_failures_only(self, failures_only: bool) -> None:
        self.failures_only = failures_only
        self.show_newest()

    def show_newest(self) -> None:
        """Replace the window with the newest page of beats."""
        self.clear()
        self._rows.clear()
        self._beats.clear()
        if self.session_id is None:
            self.total = 0
            self.following = True
            self._update_title()
            return
        self.total = self.store.count(self.session_id)
        beats = self.store.beats(
            self.session_id, PAGE, failures_only=self.failures_only
        )
        for beat in beats:
            self._append(beat)
        self._sort()
        self.following = True
        self.waiting = 0
        self._update_title()
        if self.row_count:
            self.move_cursor(row=0)

    def action_newest(self) -> None:
        self.show_newest()

    def add_beat(self, beat: Beat) -> None:
        """Show a new beat at the top, or count it while scrolled back."""
        if beat.session_id != self.session_id:
            return
        self.total += 1
        if self.failures_only and beat.ok:
            self._update_title()
            return
        if not self.following:
            self.waiting += 1
            self._update_title()
            return
        self._append(beat)
        while len(self._rows) > WINDOW:
            self._drop_oldest()
        self._sort()
        self._update_title()

    def load_older(self) -> int:
        """Add the next older page below the window; return rows added."""
        if not self._rows or self.session_id is None:
            return 0
        oldest_id = min(row[0] for row in self._rows)
        beats = self.store.beats(
            self.session_id,
            PAGE,
            before_id=oldest_id,
            failures_only=self.failures_only,
        )
        if not beats:
            return 0
        overflow = len(self._rows) + len(beats) - WINDOW
        if overflow > 0:
            # Drop the newest rows by rebuilding the table once: DataTable
            # re-indexes every row on each remove_row, so removing a page of
            # rows one by one stalls the scroll.
            oldest_first = sorted(self._beats.values(), key=lambda b: b.id or 0)
            keep = oldest_first[: len(oldest_first) - overflow]
            self._rebuild(keep + beats)
            self.following = False
        else:
            for beat in beats:
                self._append(beat)
        self._sort()
        self._update_title()
        return len(beats)

    def _rebuild(self, beats: list[Beat]) -> None:
        self.clear()
        self._rows.clear()
        self._beats.clear()
        for beat in beats:
            self._append(beat)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.cursor_row == self.row_count - 1 and self.row_count:
            key = self.coordinate_to_cell_key((event.cursor_row, 0)).row_key.value
            if self.load_older() and key is not None:
                # Keep the cursor on the same beat; rebuilt rows have new keys.
                self.move_cursor(row=self.get_row_index(key))

    def _append(self, beat: Beat) -> None:
        assert beat.id is not None
        number = beat.seq if beat.seq is not None else beat.id
        outcome_style = OUTCOME_STYLES.get(beat.outcome, "bold red")
        message = beat.message
        self.add_row(
            number,
            local_time(beat.time),
            "—" if beat.http_status is None else str(beat.http_status),
            Text(f"{beat.latency_ms:.0f} ms", justify="right"),
            Text(beat.outcome, style=outcome_style),
            Text(message, style="" if beat.ok else outcome_style, no_wrap=True),
            key=str(beat.id),
        )
        self._rows.append((beat.id, number))
        self._beats[beat.id] = beat

    def _drop_oldest(self) -> None:
        row = min(self._rows)
        self._rows.remove(row)
        self._beats.pop(row[0], None)
        self.remove_row(str(row[0]))

    def _sort(self) -> None:
        self.sort("seq", reverse=True)

    def _update_title(self) -> None:
        title = f"History ({plural(self.total, 'beat')})"
        if self.failures_only:
            title += " · failures only: press f for all"
        if not self.following:
            title += f" · scrolled back, {self.waiting} new: press n"
        self.border_title = title
