"""A dialog with one live-tail event in full, as pretty-printed JSON."""

from __future__ import annotations

import json
from typing import Any

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.events import EventLine
from tui.text import iso_utc

# Characters of JSON that get syntax colours; a longer event is shown plain,
# because colouring megabytes would stall the UI.
MAX_HIGHLIGHTED_CHARS = 100_000


def pretty_json(value: Any) -> str:
    """Return the event as indented JSON, or the text of a non-JSON frame."""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


class EventDetailScreen(ModalScreen[None]):
    """Shows the event's summary and its full JSON; Escape closes."""

    BINDINGS = [
        Binding("escape", "close", "Close", id="detail_close"),
        Binding("c", "copy", "Copy JSON", id="detail_copy"),
    ]

    DEFAULT_CSS = """
    EventDetailScreen {
        align: center middle;
    }
    #event-detail {
        width: 90%;
        height: 90%;
        border: thick $primary;
        background: $surface;
        padding: 0 1;
    }
    #event-detail-summary {
        height: auto;
        margin: 0 0 1 0;
    }
    #event-detail-body {
        height: 1fr;
    }
    """

    def __init__(self, line: EventLine):
        super().__init__()
        self.line = line
        self.text = pretty_json(line.raw)

    def compose(self) -> ComposeResult:
        with Vertical(id="event-detail"):
            yield Static(self._summary(), id="event-detail-summary")
            with VerticalScroll(id="event-detail-body"):
                yield Static(self._body(), id="event-detail-json")

    def on_mount(self) -> None:
        container = self.query_one("#event-detail", Vertical)
        container.border_title = "Event"
        container.border_subtitle = "Escape closes · c copies the JSON"
        self.query_one("#event-detail-body").focus()

    def _summary(self) -> Text:
        line = self.line
        summary = Text()
        summary.append(iso_utc(line.time), style="bold")
        summary.append(f"  level {line.level}")
        if line.outcome:
            summary.append(f"  outcome {line.outcome}")
        if line.exception:
            summary.append("  exception", style="bold red")
        if line.request_id:
            summary.append(f"  request {line.request_id}")
        summary.append("\n")
        summary.append(line.message)
        return summary

    def _body(self) -> Syntax | Text:
        if isinstance(self.line.raw, str) or len(self.text) > MAX_HIGHLIGHTED_CHARS:
            return Text(self.text)
        return Syntax(self.text, "json", word_wrap=True, background_color="default")

    def action_close(self) -> None:
        self.dismiss(None)

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.text)
        self.notify(
            "Sent the JSON to the clipboard (the terminal must support OSC 52)",
            timeout=3,
        )
