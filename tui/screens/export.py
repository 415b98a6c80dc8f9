"""Ask where to export a session's history, then write it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from tui.engine import HeartbeatSession
from tui.errors import UserError
from tui.export import export_history

if TYPE_CHECKING:
    from tui.stream import LiveStream


class ExportScreen(ModalScreen[Path | None]):
    """Export to the typed path; .csv gives CSV, .jsonl gives JSON Lines."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="export_cancel")]

    def __init__(self, session: HeartbeatSession, events: LiveStream | None = None):
        """Export the session's history, or with ``events`` its live events."""
        super().__init__()
        self.session = session
        self.events = events

    def compose(self) -> ComposeResult:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        script = self.session.script
        if self.events is not None:
            default = Path.cwd() / f"cf-livetail-events-{script}-{stamp}.jsonl"
            what, hint = "the live events", "JSON Lines"
        else:
            default = Path.cwd() / f"cf-livetail-{script}-{stamp}.csv"
            what, hint = "the history", "End the name with .csv or .jsonl"
        with Vertical(id="dialog"):
            yield Label(f"Export {what} of {script} to:")
            yield Input(value=str(default), id="export-path")
            yield Static(
                f"{hint}. Enter to export, Escape to cancel.", id="dialog-message"
            )

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        path = Path(event.value.strip()).expanduser()
        session = self.session
        if self.events is not None:
            self._save_events(path)
            return
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

    def _save_events(self, path: Path) -> None:
        assert self.events is not None
        message = self.query_one("#dialog-message", Static)
        if path.is_dir() or not path.parent.is_dir():
            message.update(f"cannot write {path}: give a file in an existing folder")
            message.add_class("error")
            return
        try:
            count = self.events.save_jsonl(path)
        except OSError as exc:
            message.update(f"could not write {path}: {exc.strerror or exc}")
            message.add_class("error")
            return
        self.app.notify(f"Saved {count} events to {path.resolve()}", timeout=8)
        self.dismiss(path)

    def action_cancel(self) -> None:
        self.dismiss(None)
