"""The status pane: who, what, and how the session is doing right now."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from tui.engine import HeartbeatSession, State
from tui.text import duration, local_time

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


class StatusPane(Static):
    """Renders the selected session's status; refreshed on engine events and
    once a second for the countdown."""

    def __init__(self, credential_text: str, **kw):
        super().__init__(**kw)
        self.session: HeartbeatSession | None = None
        self.credential_text = credential_text
        self.border_title = "Status"

    def show(self, session: HeartbeatSession | None) -> None:
        self.session = session
        self.refresh_status()

    def refresh_status(self) -> None:
        self.update(self.render_status())

    def render_status(self) -> Group | Text:
        session = self.session
        if session is None:
            return Text("No session open: press a to add one.", style="dim")
        table = Table.grid(padding=(0, 1), expand=True)
        table.add_column(style="dim", no_wrap=True)
        table.add_column(ratio=1, overflow="fold")
        table.add_column(style="dim", no_wrap=True)
        table.add_column(ratio=1, overflow="fold")

        state = session.state
        state_text = Text(
            f"{STATE_MARKS[state]} {state.value}", style=STATE_STYLES[state]
        )
        state_text.append(f" every {duration(session.interval)}", style="dim")
        latency = session.last_latency_ms
        failures = Text(str(session.failures))
        if session.failures:
            failures.stylize("bold red")
        error = Text(
            session.last_error or "—", style="red" if session.last_error else ""
        )
        error.truncate(400)

        heading = Text("Account    ", style="dim")
        heading.append(session.account_name, style="bold")
        heading.append(f"  {session.account_id}", style="dim")
        heading.append("  Worker ", style="dim")
        heading.append(session.script, style="bold")
        table.add_row("Credential", Text(self.credential_text), "State", state_text)
        table.add_row(
            "Last OK",
            Text(local_time(session.last_ok_wall, with_date=True)),
            "Latency",
            Text("—" if latency is None else f"{latency:.0f} ms"),
        )
        table.add_row("Failures", failures, "Next beat", self._next_beat_text())
        table.add_row("Last error", error, "", "")
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
