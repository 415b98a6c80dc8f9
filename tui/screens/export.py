"""Ask where to export a session's history, then write it."""

from __future__ import annotations

import time
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from tui.engine import HeartbeatSession
from tui.errors import UserError
from tui.export import export_history


class ExportScreen(ModalScreen[Path | None]):
    """Export to the typed path; .csv gives CSV, .jsonl gives JSON Lines."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="export_cancel")]

    def __init__(self, session: HeartbeatSession):
        super().__init__()
        self.session = session

    def compose(self) -> ComposeResult:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        default = Path.cwd() / f"cf-livetail-{self.session.script}-{stamp}.csv"
        with Vertical(id="dialog"):
            yield Label(f"Export the history of {self.session.script} to:")
            yield Input(value=str(default), id="export-path")
            yield Static(
                "End the name with .csv or .jsonl. Enter to export, Escape to cancel.",
                id="dialog-message",
            )

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        path = Path(event.value.strip()).expanduser()
        session = self.session
        try:
            rows = export_history(
                session.store,
                session.session_id,
                path,
                session.account_id,
                session.account_name,
                session.script,
            )
        except UserError as exc:
            message = self.query_one("#dialog-message", Static)
            message.update(str(exc))
            message.add_class("error")
            return
        self.app.notify(f"Exported {rows} beats to {path.resolve()}", timeout=8)
        self.dismiss(path)

    def action_cancel(self) -> None:
        self.dismiss(None)
