"""The sessions pane: one row per open session."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from tui.engine import HeartbeatSession
from tui.text import local_time, short_id
from tui.widgets.status import STATE_MARKS, STATE_STYLES


class SessionsTable(DataTable):
    """Account, Worker, state, last OK beat and failures of every session."""

    def __init__(self, **kw):
        super().__init__(cursor_type="row", **kw)
        self.border_title = "Sessions"
        # The plain text of each row's cells as last drawn, by row key.
        self._shown: dict[str, tuple[str, ...]] = {}

    def on_mount(self) -> None:
        self.add_column("Account", key="account")
        self.add_column("Worker", key="worker")
        self.add_column("State", key="state", width=10)
        self.add_column("Last OK", key="last_ok", width=8)
        self.add_column("Fails", key="failures", width=5)

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
        self.border_title = f"Sessions ({len(sessions)})"
        if selected is not None and str(selected) in keys:
            self.move_cursor(row=self.get_row_index(str(selected)))

    def update_session(self, session: HeartbeatSession) -> None:
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
        if self._shown.get(key) == plain:
            # Nothing changed: skip the repaint (each one is bytes over SSH).
            return
        if key in self._shown:
            columns = ("account", "worker", "state", "last_ok", "failures")
            old = self._shown[key]
            for index, (column, value) in enumerate(zip(columns, cells, strict=True)):
                if old[index] != plain[index]:
                    self.update_cell(key, column, value)
        else:
            self.add_row(*cells, key=key)
        self._shown[key] = plain
