"""The sessions pane: one row per open session."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Self

from rich.cells import cell_len
from rich.text import Text
from textual.coordinate import Coordinate
from textual.geometry import Region
from textual.widgets import DataTable

from tui.engine import HeartbeatSession
from tui.text import local_time, short_id
from tui.widgets.status import STATE_MARKS, STATE_STYLES

COLUMNS = ("account", "worker", "state", "last_ok", "failures")


class SessionsTable(DataTable):
    """Account, Worker, state, last OK beat and failures of every session.

    Every change repaints only what it changed: the cells of a row, or the
    border subtitle, never the whole table.
    """

    # While true, a refresh of the whole table is skipped, because the caller
    # repaints the part it changed. A class attribute, since DataTable's
    # __init__ already refreshes.
    _whole_refresh_skipped = False

    def __init__(self, **kw):
        super().__init__(cursor_type="row", **kw)
        self.border_title = "Sessions"
        # The plain text of each row's cells as last drawn, by row key.
        self._shown: dict[str, tuple[str, ...]] = {}
        self._budget_text = ""

    def on_mount(self) -> None:
        self.add_column("Account", key="account")
        self.add_column("Worker", key="worker")
        self.add_column("State", key="state", width=10)
        self.add_column("Last OK", key="last_ok", width=8)
        self.add_column("Fails", key="failures", width=5)

    def refresh(
        self,
        *regions: Region,
        repaint: bool = True,
        layout: bool = False,
        recompose: bool = False,
    ) -> Self:
        if self._whole_refresh_skipped and not (regions or layout or recompose):
            return self
        return super().refresh(
            *regions, repaint=repaint, layout=layout, recompose=recompose
        )

    @contextmanager
    def _skip_whole_refresh(self) -> Iterator[None]:
        """Skip the whole-table refresh that the calls inside would request.

        ``update_cell`` and setting ``border_subtitle`` refresh the whole
        table (Textual 8.2), which rewrites every visible cell to the
        terminal. If a later Textual refreshes in some other way, that
        refresh still happens: the table then repaints more, never less.
        """
        self._whole_refresh_skipped = True
        try:
            yield
        finally:
            self._whole_refresh_skipped = False

    def set_sessions(
        self, sessions: list[HeartbeatSession], selected: int | None
    ) -> None:
        """Show exactly these sessions, keeping the cursor on ``selected``."""
        keys = {str(s.session_id) for s in sessions}
        for row_key in list(self.rows):
            if row_key.value not in keys:
                self.remove_row(row_key)
                self._shown.pop(row_key.value or "", None)
        for session in sessions:
            self.update_session(session)
        title = f"Sessions ({len(sessions)})"
        if self.border_title != title:
            self.border_title = title
        if selected is not None and str(selected) in keys:
            row = self.get_row_index(str(selected))
            if row != self.cursor_row:
                self.move_cursor(row=row)

    def update_session(self, session: HeartbeatSession) -> None:
        """Show the session's row, repainting only the cells whose text changed."""
        key = str(session.session_id)
        account = Text(session.account_name, overflow="ellipsis", no_wrap=True)
        account.append(f" {short_id(session.account_id)}", style="dim")
        state = Text(
            f"{STATE_MARKS[session.state]} {session.state.value}",
            style=STATE_STYLES[session.state],
        )
        failures = Text(
            str(session.failures), style="bold red" if session.failures else ""
        )
        cells = (
            account,
            session.script,
            state,
            local_time(session.last_ok_wall),
            failures,
        )
        plain = tuple(str(cell) for cell in cells)
        old = self._shown.get(key)
        if old == plain:
            return
        self._shown[key] = plain
        if old is None:
            self.add_row(*cells, key=key)
            return
        row = self.get_row_index(key)
        for index, (column, value) in enumerate(zip(COLUMNS, cells, strict=True)):
            if old[index] != plain[index]:
                with self._skip_whole_refresh():
                    self.update_cell(key, column, value)
                self.refresh_coordinate(Coordinate(row, index))

    def show_budget(self, text: str) -> None:
        """Show the request budget in the bottom border, repainting only its label."""
        old = self._budget_text
        if old == text:
            return
        self._budget_text = text
        with self._skip_whole_refresh():
            self.border_subtitle = text
        # The label is left-aligned after "╰─ " (see styles/app.tcss), and a
        # repainted line is written from the widget's left edge, so repaint
        # from there to the end of the longer of the two labels.
        width, height = self.outer_size
        span = min(width, max(cell_len(old), cell_len(text)) + 4)
        offset = self.content_offset
        self.refresh(Region(-offset.x, height - 1 - offset.y, span, 1))
