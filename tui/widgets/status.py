"""The status pane: who, what, and how the session is doing right now."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from tui.engine import HeartbeatSession, State
from tui.text import duration, local_time, short_id

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
    """Renders a session's status; refreshed on engine events and once a second."""

    def __init__(self, session: HeartbeatSession, credential_text: str, **kw):
        super().__init__(**kw)
        self.session = session
        self.credential_text = credential_text
        self.border_title = "Status"

    def on_mount(self) -> None:
        self.refresh_status()

    def refresh_status(self) -> None:
        self.update(self.render_status())

    def render_status(self) -> Table:
        session = self.session
        table = Table.grid(padding=(0, 2))
        table.add_column(style="dim", no_wrap=True)
        table.add_column(overflow="fold")

        account = Text(session.account_name, style="bold")
        if session.account_name != session.account_id:
            account.append(f"  {session.account_id}", style="dim")
        table.add_row("Account", account)
        table.add_row("Worker", Text(session.script, style="bold"))
        table.add_row("Credential", Text(self.credential_text))

        state = session.state
        state_text = Text(
            f"{STATE_MARKS[state]} {state.value}", style=STATE_STYLES[state]
        )
        state_text.append(f"  every {duration(session.interval)}", style="dim")
        table.add_row("State", state_text)

        last_ok = Text(local_time(session.last_ok_wall, with_date=True))
        table.add_row("Last OK beat", last_ok)
        latency = session.last_latency_ms
        table.add_row(
            "Last latency", Text("—" if latency is None else f"{latency:.0f} ms")
        )
        failures = Text(str(session.failures))
        if session.failures:
            failures.stylize("bold red")
        table.add_row("Failures in a row", failures)
        table.add_row("Next beat", self._next_beat_text())
        error = Text(
            session.last_error or "—", style="red" if session.last_error else ""
        )
        error.truncate(400)
        table.add_row("Last error", error)
        return table

    def _next_beat_text(self) -> Text:
        session = self.session
        if session.state is State.PAUSED:
            return Text("paused: press p to resume", style="cyan")
        if session.state is State.FAILED:
            return Text("stopped: press r to retry", style="red")
        if session.state is State.STOPPED:
            return Text("—")
        remaining = session.seconds_to_next()
        if remaining is None:
            return Text("—")
        prefix = "retry" if session.state is State.RETRYING else "in"
        return Text(f"{prefix} {duration(remaining)}")


__all__ = ["StatusPane", "short_id"]
