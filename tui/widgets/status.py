"""The status pane: who, what, and how the session is doing right now."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from tui.engine import HeartbeatSession, State
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
        self.border_title = "Status"

    def on_resize(self) -> None:
        self.refresh_status()

    def show(self, session: HeartbeatSession | None) -> None:
        self.session = session
        self.refresh_status()

    def refresh_status(self) -> None:
        self.update(self.render_status())

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
        fields = [
            ("Credential", Text(self.credential_text)),
            ("State", state_text),
            ("Last OK", Text(local_time(session.last_ok_wall, with_date=True))),
            ("Latency", Text("—" if latency is None else f"{latency:.0f} ms")),
            ("Failures", failures),
            ("Next beat", self._next_beat_text()),
        ]

        heading = Text("Account    ", style="dim")
        heading.append(session.account_name, style="bold")
        heading.append(f"  {session.account_id}", style="dim")
        heading.append("  Worker ", style="dim")
        heading.append(session.script, style="bold")

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
        return Group(heading, table)

    def _next_beat_text(self) -> Text:
        session = self.session
        assert session is not None
        if session.state is State.PAUSED:
            return Text("paused: press p to resume", style="cyan")
        if session.state is State.FAILED:
            return Text("stopped: press r to retry", style="red")
        if session.state is State.STOPPED:
            return Text("—")
        remaining = session.seconds_to_next()
        if remaining is None:
            return Text("—")
        prefix = "retry in" if session.state is State.RETRYING else "in"
        return Text(f"{prefix} {duration(remaining)}")
