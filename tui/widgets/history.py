"""The history pane: one row per beat, newest first, a bounded window."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from tui.history import Beat
from tui.text import duration, local_time

# Rows kept in the widget; the full history stays in the database.
MAX_ROWS = 500

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

    def __init__(self, **kw):
        super().__init__(cursor_type="row", zebra_stripes=False, **kw)
        self.border_title = "History"
        self._row_ids: list[int] = []

    def on_mount(self) -> None:
        self.add_column("#", key="seq", width=6)
        self.add_column("Time", key="time", width=8)
        self.add_column("HTTP", key="status", width=4)
        self.add_column("Latency", key="latency", width=8)
        self.add_column("Outcome", key="outcome", width=13)
        self.add_column("Message", key="message")

    def load(self, beats: list[Beat], total: int) -> None:
        """Show beats given newest first, of ``total`` in the session."""
        self.clear()
        self._row_ids.clear()
        shown = beats[:MAX_ROWS]
        for offset, beat in enumerate(reversed(shown)):
            self._append(beat, total - len(shown) + offset + 1)
        self._sort()

    def add_beat(self, beat: Beat, number: int) -> None:
        """Add the session's beat number ``number`` at the top."""
        self._append(beat, number)
        while len(self._row_ids) > MAX_ROWS:
            oldest = self._row_ids.pop(0)
            self.remove_row(str(oldest))
        self._sort()

    def _append(self, beat: Beat, number: int) -> None:
        assert beat.id is not None
        outcome_style = OUTCOME_STYLES.get(beat.outcome, "bold red")
        message = beat.message
        if beat.gap_s:
            message = f"after a gap of {duration(beat.gap_s)} · {message}"
        self.add_row(
            number,
            local_time(beat.time),
            "—" if beat.http_status is None else str(beat.http_status),
            Text(f"{beat.latency_ms:.0f} ms", justify="right"),
            Text(beat.outcome, style=outcome_style),
            Text(message, style="" if beat.ok else outcome_style, no_wrap=True),
            key=str(beat.id),
        )
        self._row_ids.append(beat.id)

    def _sort(self) -> None:
        self.sort("seq", reverse=True)
