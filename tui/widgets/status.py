"""The status pane: who, what, and how the session is doing right now."""

from __future__ import annotations

import time

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from tui.client_filter import ClientFilter
from tui.engine import HeartbeatSession, State
from tui.filters import describe_filters
from tui.text import duration, interval_text, local_time

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


class StatusPane(Static):
    """Renders the selected session's status; refreshed on engine events and
    once a second for the countdown."""

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

    def on_resize(self) -> None:
        self.refresh_status()

    def show(self, session: HeartbeatSession | None) -> None:
        self.session = session
        self.refresh_status()

    def refresh_status(self) -> None:
        self.update(self.render_status())
        # The border keeps a summary in sight when the pane is too short for
        # the Filters lines.
        self.border_subtitle = self.filters_summary()

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

    def render_status(self) -> Group | Text:
        session = self.session
        if session is None:
            return Text("No session open: press a to add one.", style="dim")
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
        fields = [
            ("Worker", Text(session.script, style="bold")),
            ("State", state_text),
            ("Credential", Text(self.credential_text)),
            ("Last OK", last_ok),
            ("Failures", failures),
            ("Next beat", self._next_beat_text()),
        ]

        heading = Text("Account    ", style="dim")
        heading.append(session.account_name, style="bold")
        heading.append(f"  {session.account_id}", style="dim")

        # Two label/value pairs a row where there is room, else one.
        pairs = 2 if self.size.width >= NARROW else 1
        table = Table.grid(padding=(0, 1), expand=True)
        for _ in range(pairs):
            table.add_column(style="dim", no_wrap=True)
            table.add_column(ratio=1, overflow="fold")
        for start in range(0, len(fields), pairs):
            row: list[Text | str] = []
            for label, value in fields[start : start + pairs]:
                row += [label, value]
            table.add_row(*row)
        stream = Text(self.stream_text or "not started", style="dim")
        table.add_row("Events", stream, *([""] * (2 * pairs - 2)))
        table.add_row("Last error", error, *([""] * (2 * pairs - 2)))
        filters = self._filters_table()
        if filters is None:
            return Group(heading, table)
        return Group(heading, table, filters)

    def _filters_table(self) -> Table | None:
        """Return one line each for the server-side and client-side filters.

        Each line is cut to the pane's width, so that long filters cannot
        push the other fields out of the pane. None when no filter is active.
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
        if not lines:
            return None
        table = Table.grid(padding=(0, 1), expand=True)
        # As wide as the longest label of the fields above, so values align.
        table.add_column(style="dim", no_wrap=True, min_width=len("Credential"))
        table.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        for number, line in enumerate(lines):
            table.add_row("Filters" if number == 0 else "", line)
        return table

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
        if remaining is None:
            return Text("—")
        # A clock time, not a countdown: the pane then changes only on events,
        # and the one-line countdown beside the uptime ticks instead.
        prefix = "retry at" if session.state is State.RETRYING else "at"
        return Text(f"{prefix} {local_time(time.time() + remaining)}")


def countdown_text(session: HeartbeatSession | None) -> str:
    """Return "next beat in 27 s" for the countdown line, or "" when none is due."""
    if session is None or session.state not in (State.ALIVE, State.RETRYING):
        return ""
    remaining = session.seconds_to_next()
    if remaining is None:
        return ""
    what = "retry" if session.state is State.RETRYING else "next beat"
    return f"{what} in {duration(remaining)}"
