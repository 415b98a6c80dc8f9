"""A dialog for the heartbeat interval in seconds."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from tui.engine import MAX_INTERVAL, MIN_INTERVAL, parse_interval


class IntervalScreen(ModalScreen[float | None]):
    """Returns the new interval, or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="cancel")]

    def __init__(self, current: float):
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(
                f"Seconds between heartbeats ({MIN_INTERVAL:g} to {MAX_INTERVAL:g}):"
            )
            yield Input(value=f"{self.current:g}", id="interval-input")
            yield Static("Enter to apply, Escape to cancel", id="dialog-message")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            seconds = parse_interval(event.value)
        except ValueError as exc:
            message = self.query_one("#dialog-message", Static)
            message.update(str(exc))
            message.add_class("error")
            return
        self.dismiss(seconds)

    def action_cancel(self) -> None:
        self.dismiss(None)
