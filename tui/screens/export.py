"""Ask where to export a session's history, then write it."""

from __future__ import annotations

import asyncio
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
from tui.export import check_target, export_history, format_for

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
        # The existing file that the user has agreed to replace.
        self._replace: Path | None = None
        self._exporting = False

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

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        path = Path(event.value.strip()).expanduser()
        session = self.session
        if self.events is not None:
            self._save_events(path)
            return
        if self._exporting:
            return
        try:
            check_target(path)
            format_for(path)
        except UserError as exc:
            self._show_error(str(exc))
            return
        if path.exists() and self._replace != path:
            self._replace = path
            self._show_error(
                f"{path} exists: press Enter again to replace it, or change the name"
            )
            return
        self._exporting = True
        field = self.query_one(Input)
        field.disabled = True
        message = self.query_one("#dialog-message", Static)
        message.remove_class("error")
        message.update("Exporting…")
        arguments = (
            session.store,
            session.session_id,
            path,
            session.account_id,
            session.account_name,
            session.script,
        )
        try:
            if session.store.path is None:
                rows = export_history(*arguments)
            else:
                # A long history takes seconds, and the heartbeats must not wait.
                rows = await asyncio.to_thread(export_history, *arguments)
        except UserError as exc:
            self._exporting = False
            field.disabled = False
            field.focus()
            self._show_error(str(exc))
            return
        finally:
            self._exporting = False
        self.app.notify(f"Exported {rows} beats to {path.resolve()}", timeout=8)
        if self.is_current:
            self.dismiss(path)

    def _show_error(self, text: str) -> None:
        message = self.query_one("#dialog-message", Static)
        message.update(text)
        message.add_class("error")

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
