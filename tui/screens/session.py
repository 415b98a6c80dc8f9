"""The session screen: status pane above, heartbeat history below."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header

from tui.engine import HeartbeatSession, State
from tui.history import Beat
from tui.widgets.history import HistoryTable
from tui.widgets.status import StatusPane

if TYPE_CHECKING:
    from tui.app import LiveTailApp


class SessionScreen(Screen[None]):
    """Shows one heartbeat session; the App owns the session itself."""

    BINDINGS = [
        Binding("b", "beat_now", "Beat now", id="beat_now"),
        Binding("p", "toggle_pause", "Pause/resume", id="toggle_pause"),
        Binding("i", "change_interval", "Interval", id="change_interval"),
        Binding("r", "retry", "Retry", id="retry"),
        Binding("escape", "back", "Pickers", id="back"),
    ]

    def __init__(self, session: HeartbeatSession):
        super().__init__()
        self.session = session
        self.ready = False

    @property
    def livetail(self) -> LiveTailApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        credential = self.livetail.credential
        described = credential.description if credential else "no credential"
        yield Header()
        with Vertical(id="session"):
            yield StatusPane(self.session, described, id="status")
            yield HistoryTable(
                self.session.store, self.session.session_id, id="history"
            )
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(HistoryTable)
        # The countdown is the only thing that changes without an event.
        self.set_interval(1.0, self.refresh_status)
        table.focus()
        self.ready = True

    def refresh_status(self) -> None:
        self.query_one(StatusPane).refresh_status()

    def add_beat(self, beat: Beat) -> None:
        self.query_one(HistoryTable).add_beat(beat)
        self.refresh_status()

    def action_beat_now(self) -> None:
        self.session.beat_now()
        self.notify("Sending a heartbeat now", timeout=2)

    def action_retry(self) -> None:
        if self.session.state not in (State.FAILED, State.RETRYING, State.PAUSED):
            self.notify("The session is not failing; nothing to retry", timeout=3)
            return
        self.session.retry()
        self.notify("Retrying now", timeout=2)

    def action_toggle_pause(self) -> None:
        self.session.toggle_pause()
        self.notify(
            "Paused: no heartbeats until you resume"
            if self.session.paused
            else "Resumed",
            timeout=3,
        )
        self.refresh_status()

    def action_change_interval(self) -> None:
        from tui.screens.interval import IntervalScreen

        def apply(seconds: float | None) -> None:
            if seconds is None:
                return
            self.session.set_interval(seconds)
            self.livetail.remember_interval(seconds)
            self.notify(f"Heartbeat interval set to {seconds:g} s", timeout=3)
            self.refresh_status()

        self.app.push_screen(IntervalScreen(self.session.interval), apply)

    def action_back(self) -> None:
        self.app.run_worker(
            self.livetail.back_to_pickers(), group="navigate", exclusive=True
        )

    def palette_commands(self) -> list[SystemCommand]:
        return [
            SystemCommand(
                "Beat now", "Send a heartbeat at once (b)", self.action_beat_now
            ),
            SystemCommand(
                "Pause or resume",
                "Stop or restart heartbeats (p)",
                self.action_toggle_pause,
            ),
            SystemCommand(
                "Change interval",
                "Set the seconds between heartbeats (i)",
                self.action_change_interval,
            ),
            SystemCommand("Retry", "Retry a failed session (r)", self.action_retry),
            SystemCommand(
                "Back to pickers",
                "Stop this session and choose again (Escape)",
                self.action_back,
            ),
        ]
