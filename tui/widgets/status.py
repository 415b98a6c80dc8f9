"""The status pane: who, what, and how the session is doing right now.

Each field is its own widget and repaints only the cells that changed, so
that a beat redraws little more than "Last OK" and "Next beat".
"""

from __future__ import annotations

import time

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical

from tui.client_filter import ClientFilter
from tui.engine import HeartbeatSession, State
from tui.filters import describe_filters
from tui.text import duration, interval_text, local_time
from tui.widgets.partial import PartialStatic

STATE_STYLES = {
    State.STARTING: "bold yellow",
    State.ALIVE: "bold green",
    State.RETRYING: "bold yellow",
    State.PAUSED: "bold cyan",
    State.FAILED: "bold red",
    State.STOPPED: "dim",
}
STATE_MARKS = {
    State.STARTING: "◌",
    State.ALIVE: "●",
    State.RETRYING: "◐",
    State.PAUSED: "‖",
    State.FAILED: "✖",
    State.STOPPED: "○",
}


# Below this width the status shows one field a row.
NARROW = 76
# Label widths: the longest label of the left column ("Credential",
# "Last error") and of the right one ("Next beat").
LABEL_WIDTH = len("Credential")
RIGHT_LABEL_WIDTH = len("Next beat")


class StatusField(PartialStatic):
    """A dim label and its value, whose wrapped lines align after the label.

    With ``wrap=False`` each line of the value is cut to the width with an
    ellipsis instead, so that a long value cannot push other fields away.
    """

    def __init__(self, label: str, *, wrap: bool = True, **kw) -> None:
        super().__init__(**kw)
        self.label = label
        self.wrap = wrap
        self.label_width = LABEL_WIDTH
        self.value = Text()

    def show(self, value: Text) -> None:
        if value == self.value:
            return
        self.value = value
        self.update(self._table())

    def set_label_width(self, width: int) -> None:
        if width != self.label_width:
            self.label_width = width
            self.update(self._table())

    def _table(self) -> Table:
        table = Table.grid(padding=(0, 1), expand=True)
        table.add_column(style="dim", no_wrap=True, width=self.label_width)
        if self.wrap:
            table.add_column(ratio=1, overflow="fold")
        else:
            table.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        table.add_row(self.label, self.value)
        return table


class StatusPane(Vertical):
    """The selected session's status, in fields that repaint on engine events.

    The next beat shows as a clock time, so nothing here changes between
    events, and the countdown ticks in the stats bar.
    """

    DEFAULT_CSS = """
    StatusPane {
        scrollbar-size-vertical: 1;
    }
    StatusPane .status-row {
        height: auto;
    }
    StatusPane .status-row > StatusField {
        width: 1fr;
    }
    StatusPane .status-row > .right {
        padding: 0 0 0 1;
    }
    StatusPane.-narrow .status-row {
        layout: vertical;
    }
    StatusPane.-narrow .status-row > .right {
        padding: 0;
    }
    StatusPane #status-empty {
        display: none;
    }
    StatusPane.-empty #status-empty {
        display: block;
    }
    StatusPane.-empty StatusField, StatusPane.-empty .status-row {
        display: none;
    }
    StatusPane #status-filters {
        display: none;
    }
    StatusPane.-filtered #status-filters {
        display: block;
    }
    """

    def __init__(self, credential_text: str, **kw):
        super().__init__(**kw)
        self.session: HeartbeatSession | None = None
        self.credential_text = credential_text
        # The live events stream's state, for example "open" or "reconnecting…".
        self.stream_text = ""
        # The selected session's client-side filter, and how many events it
        # dropped, which the screen sets with the stream.
        self.client_filter: ClientFilter | None = None
        self.filtered_out = 0
        self.border_title = "Status"
        # (session id, monotonic due time) -> wall-clock time of that beat,
        # so that the shown clock time does not jitter between refreshes.
        self._next_due_wall: tuple[tuple[int, float], float] | None = None
        self.add_class("-empty")
        self._fields: dict[str, StatusField] = {}

    def compose(self) -> ComposeResult:
        yield PartialStatic(
            Text("No session open: press a to add one.", style="dim"),
            id="status-empty",
        )
        yield self._new_field("Account")
        with Horizontal(classes="status-row"):
            yield self._new_field("Worker")
            yield self._new_field("State", classes="right")
        with Horizontal(classes="status-row"):
            yield self._new_field("Credential")
            yield self._new_field("Last OK", classes="right")
        with Horizontal(classes="status-row"):
            yield self._new_field("Failures")
            yield self._new_field("Next beat", classes="right")
        yield self._new_field("Events")
        yield self._new_field("Last error")
        yield self._new_field("Filters", wrap=False)

    def _new_field(self, label: str, **kw) -> StatusField:
        field = StatusField(label, id=_field_id(label), **kw)
        self._fields[label] = field
        return field

    def on_mount(self) -> None:
        self.refresh_status()

    def on_resize(self) -> None:
        # Two label/value pairs a row where there is room, else one.
        narrow = self.size.width < NARROW
        self.set_class(narrow, "-narrow")
        right_width = LABEL_WIDTH if narrow else RIGHT_LABEL_WIDTH
        for label in ("State", "Last OK", "Next beat"):
            self._fields[label].set_label_width(right_width)

    def show(self, session: HeartbeatSession | None) -> None:
        self.session = session
        self.refresh_status()

    def refresh_status(self) -> None:
        """Show the session's current figures; only changed fields repaint."""
        if not self.is_mounted:
            return
        self.set_class(self.session is None, "-empty")
        values = self.field_values()
        for label, value in values.items():
            self._fields[label].show(value)
        self.set_class("Filters" in values and bool(values["Filters"]), "-filtered")
        # The border keeps a summary in sight when the pane is too short for
        # the Filters lines.
        summary = self.filters_summary()
        if self.border_subtitle != summary:
            self.border_subtitle = summary

    def filters_summary(self) -> str:
        """Return a one-line count of server-side filters and the client-side ones."""
        session = self.session
        if session is None:
            return ""
        parts = []
        if session.filters:
            count = len(session.filters)
            parts.append(f"{count} server-side filter{'s' if count != 1 else ''}")
        client = self.client_filter
        if client is not None and client.active:
            parts.append(
                f"client-side {client.describe()} ({self.filtered_out:,} dropped)"
            )
        return " · ".join(parts)

    def field_values(self) -> dict[str, Text]:
        """Return each field's value by label, or an empty dict without a session."""
        session = self.session
        if session is None:
            return {}
        state = session.state
        state_text = Text(
            f"{STATE_MARKS[state]} {state.value}", style=STATE_STYLES[state]
        )
        state_text.append(f" every {interval_text(session.interval)}", style="dim")
        latency = session.last_latency_ms
        failures = Text(str(session.failures))
        if session.failures:
            failures.stylize("bold red")
        error = Text(
            session.last_error or "—", style="red" if session.last_error else ""
        )
        error.truncate(400)
        last_ok = Text(local_time(session.last_ok_wall, with_date=True))
        if latency is not None:
            last_ok.append(f" · last latency {latency:.0f} ms", style="dim")
        account = Text(session.account_name, style="bold")
        account.append(f"  {session.account_id}", style="dim")
        return {
            "Account": account,
            "Worker": Text(session.script, style="bold"),
            "State": state_text,
            "Credential": Text(self.credential_text),
            "Last OK": last_ok,
            "Failures": failures,
            "Next beat": self._next_beat_text(),
            "Events": Text(self.stream_text or "not started", style="dim"),
            "Last error": error,
            "Filters": self._filters_text(),
        }

    def render_status(self) -> Group | Text:
        """Return every field as one renderable, as the pane shows them."""
        if self.session is None:
            return Text("No session open: press a to add one.", style="dim")
        table = Table.grid(padding=(0, 1), expand=True)
        table.add_column(style="dim", no_wrap=True, min_width=LABEL_WIDTH)
        table.add_column(ratio=1, overflow="fold")
        for label, value in self.field_values().items():
            if value:
                table.add_row(label, value)
        return Group(table)

    def _filters_text(self) -> Text:
        """Return one line each for the server-side and client-side filters.

        Empty when no filter is active.
        """
        session = self.session
        assert session is not None
        lines = []
        if session.filters:
            text = Text("server-side ", style="dim")
            text.append(describe_filters(session.filters, session.filter_combination))
            lines.append(text)
        client = self.client_filter
        if client is not None and client.active:
            text = Text("client-side ", style="dim")
            text.append(client.describe())
            text.append(f" ({self.filtered_out:,} dropped)", style="dim")
            lines.append(text)
        return Text("\n").join(lines)

    def _next_beat_text(self) -> Text:
        session = self.session
        assert session is not None
        if session.state is State.PAUSED:
            return Text("paused: press p to resume", style="cyan")
        if session.state is State.FAILED:
            return Text("stopped: press r to retry", style="red")
        if session.state in (State.STOPPED, State.STARTING):
            return Text("—")
        remaining = session.seconds_to_next()
        if remaining is None or session.next_due is None:
            return Text("—")
        prefix = "retry at" if session.state is State.RETRYING else "at"
        return Text(f"{prefix} {local_time(self._due_wall(session, remaining))}")

    def _due_wall(self, session: HeartbeatSession, remaining: float) -> float:
        """Return the wall-clock time of the next beat, fixed once per due time."""
        assert session.next_due is not None
        key = (session.session_id, session.next_due)
        if self._next_due_wall is None or self._next_due_wall[0] != key:
            self._next_due_wall = (key, time.time() + remaining)
        return self._next_due_wall[1]


def _field_id(label: str) -> str:
    return "status-" + label.lower().replace(" ", "-")


def countdown_text(session: HeartbeatSession | None) -> tuple[str, str]:
    """Return ("next beat in", "27 s") for the countdown, or ("", "") if none is due."""
    if session is None or session.state not in (State.ALIVE, State.RETRYING):
        return "", ""
    remaining = session.seconds_to_next()
    if remaining is None:
        return "", ""
    what = "retry in" if session.state is State.RETRYING else "next beat in"
    return what, duration(remaining)
