"""A dialog that edits a session's client-side event filters as wrangler flags.

Client-side filters check each event after it arrives, for what the live
tail cannot filter on the server: ``--header NAME[:VALUE]``, ``--ip ADDRESS``
and ``--sampling-rate R``, typed as on the command line and checked by the
same parser. The dialog returns the new ``ClientFilter``, or None when
cancelled; an empty line returns a filter that keeps every event.
"""

from __future__ import annotations

import shlex

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from tui.client_filter import ClientFilter
from tui.tail_filters import FlagError, parse_client_flags

HELP_TEXT = (
    "Type them as wrangler tail flags: --header NAME[:VALUE], --ip ADDRESS "
    "(each repeatable, any of them matches) and --sampling-rate R "
    "(above 0, at most 1). "
    "Leave the line empty to show every event."
)


class ClientFiltersScreen(ModalScreen[ClientFilter | None]):
    """Returns the new client-side filter, or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="client_filters_cancel")]

    DEFAULT_CSS = """
    ClientFiltersScreen {
        align: center middle;
    }
    ClientFiltersScreen #dialog {
        width: 90;
    }
    ClientFiltersScreen #client-filters-server {
        color: $text-muted;
        margin: 1 0 0 0;
    }
    """

    def __init__(self, current: ClientFilter | None, server_text: str = ""):
        super().__init__()
        self.current = current or ClientFilter()
        self.server_text = server_text

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("Client-side filters, checked on each event as it arrives")
            yield Static(HELP_TEXT)
            yield Input(
                value=shlex.join(self.current.flags()),
                placeholder="--header user-agent:curl/8.5.0 --sampling-rate 0.1",
                id="client-filters-input",
            )
            yield Static(
                "Server-side: " + (self.server_text or "none") + " (l edits them)",
                id="client-filters-server",
            )
            with Horizontal(id="dialog-buttons"):
                yield Button("Apply", id="client-filters-apply", variant="primary")
                yield Button("Clear", id="client-filters-clear")
                yield Button("Cancel", id="client-filters-cancel")
            yield Static("Enter to apply, Escape to cancel", id="dialog-message")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.apply()

    @on(Button.Pressed, "#client-filters-apply")
    def _apply_pressed(self) -> None:
        self.apply()

    @on(Button.Pressed, "#client-filters-clear")
    def _clear_pressed(self) -> None:
        self.query_one(Input).value = ""
        self.apply()

    @on(Button.Pressed, "#client-filters-cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def apply(self) -> None:
        try:
            result = parse_client_flags(self.query_one(Input).value)
        except FlagError as exc:
            message = self.query_one("#dialog-message", Static)
            message.update(str(exc))
            message.add_class("error")
            return
        self.dismiss(result)

    def action_cancel(self) -> None:
        self.dismiss(None)
