"""The sessions screen: every open session, and the selected one in detail.

The App owns the sessions; this screen only shows what the engine reports
and sends the user's keys to the selected session.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

from textual import events
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header

from tui.engine import HeartbeatSession, State
from tui.events import EventLine
from tui.filters import FilterSet, describe_filters
from tui.history import Beat
from tui.keys import BINDINGS as KEY_BINDINGS
from tui.keys import key_for
from tui.widgets.events import EventsPane
from tui.widgets.history import HistoryTable
from tui.widgets.sessions import SessionsTable
from tui.widgets.stats import StatsBar
from tui.widgets.status import StatusPane, countdown_text

if TYPE_CHECKING:
    from tui.app import LiveTailApp
    from tui.client_filter import ClientFilter
    from tui.session_stream import SessionStream

# At this width and more, the sessions pane sits left of the details.
WIDE = 120
# At this height and more, history and events are shown together.
TALL = 40


def freeze_startup_objects() -> None:
    """Keep the objects made while starting out of the collector's full passes.

    Nearly all of them live as long as the app, yet every full collection
    traverses them again. In tests/benchmarks/many_sessions.py (50 sessions,
    a 2-core VM) a full collection took about 54 ms, long enough to delay a
    key press, and 17 ms with this freeze (4 ms when all 50 sessions opened
    before it). A frozen object is never collected if it later becomes
    cyclic garbage, so this runs once a process, after collecting what is
    garbage already.
    """
    global _startup_frozen
    if _startup_frozen:
        return
    _startup_frozen = True
    gc.collect()
    gc.freeze()


_startup_frozen = False


class SessionScreen(Screen[None]):
    """Sessions pane, status, uptime and history of the selected session."""

    BINDINGS = [
        Binding("b", "beat_now", "Beat now", id="beat_now"),
        Binding("p", "toggle_pause", "Pause", id="toggle_pause"),
        Binding("i", "change_interval", "Interval", id="change_interval"),
        Binding("r", "retry", "Retry", id="retry"),
        Binding("a", "add_session", "Add", id="add_session"),
        Binding("escape", "add_session", "Pickers", id="back", show=False),
        Binding("x", "close_session", "Close", id="close_session"),
        Binding("tab", "next_session", "Next", id="next_session", priority=True),
        Binding("f", "failures_only", "Failures", id="failures_only"),
        Binding("e", "export", "Export", id="export"),
        Binding("v", "toggle_view", "Events/history", id="toggle_view"),
        Binding("slash", "search_events", "Search events", id="search_events"),
        Binding("l", "live_filters", "Live filters", id="events_filters", show=False),
        Binding("w", "save_events", "Save events", id="save_events", show=False),
        Binding(
            "c", "client_filters", "Client filters", id="client_filters", show=False
        ),
        Binding("t", "toggle_theme", "Theme", id="toggle_theme", show=False),
        Binding("g", "toggle_bell", "Bell", id="toggle_bell", show=False),
        Binding("f1", "help", "Help", id="help"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.ready = False
        # Sessions whose row in the sessions pane is out of date.
        self._dirty: set[HeartbeatSession] = set()
        # Below TALL rows one of history and events is shown at a time.
        self.view = "history"

    @property
    def livetail(self) -> LiveTailApp:
        return self.app  # type: ignore[return-value]

    @property
    def selected(self) -> HeartbeatSession | None:
        return self.livetail.selected

    def compose(self) -> ComposeResult:
        credential = self.livetail.credential
        described = credential.description if credential else "no credential"
        # Kept as attributes: the once-a-second tick and every beat use them.
        self.sessions_table = SessionsTable(id="sessions")
        self.status_pane = StatusPane(described, id="status")
        self.stats_bar = StatsBar(id="stats")
        yield Header()
        with Vertical(id="session"):
            yield self.sessions_table
            with Vertical(id="details"):
                yield self.status_pane
                yield self.stats_bar
                yield HistoryTable(self.livetail.store, None, id="history")
                yield EventsPane(id="events")
        yield Footer()

    def on_mount(self) -> None:
        # The countdown is the only thing that changes without an event.
        self.set_interval(1.0, self.tick)
        self.refresh_sessions()
        self.show_selected()
        self._show_view()
        self.query_one(HistoryTable).focus()
        self.ready = True
        # After the first frame, so that the collection does not delay it.
        self.call_after_refresh(freeze_startup_objects)

    def on_screen_resume(self) -> None:
        # Back from the pickers or a dialog: a session may have been added.
        if self.ready:
            self.refresh_sessions()
            self.show_selected()

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width >= WIDE, "-wide")
        self.set_class(event.size.height >= TALL, "-tall")
        self._show_view()

    def _show_view(self) -> None:
        both = self.has_class("-tall")
        self.query_one(HistoryTable).display = both or self.view == "history"
        self.query_one(EventsPane).display = both or self.view == "events"

    def action_toggle_view(self) -> None:
        self.view = "events" if self.view == "history" else "history"
        self._show_view()
        if self.view == "events":
            self.query_one(EventsPane).event_list.focus()
        else:
            self.query_one(HistoryTable).focus()

    def action_live_filters(self) -> None:
        self.view = "events"
        self._show_view()
        self.query_one(EventsPane).action_edit_filters()

    def action_search_events(self) -> None:
        self.view = "events"
        self._show_view()
        self.query_one(EventsPane).action_search()

    def add_event(self, line: EventLine) -> None:
        self.query_one(EventsPane).add_event(line)

    def set_stream_state(self, text: str) -> None:
        self.query_one(EventsPane).set_stream_state(text)
        self.status_pane.stream_text = text
        self.status_pane.refresh_status()

    def on_events_pane_filters_changed(
        self, message: EventsPane.FiltersChanged
    ) -> None:
        session = self.selected
        stream = self.livetail.stream_for(session)
        if session is None or stream is None:
            return
        filters = message.filters

        async def apply() -> None:
            applied = await stream.apply_filters(filters.filters, filters.combination)
            pane = self.query_one(EventsPane)
            if applied:
                self.status_pane.refresh_status()
                count = len(filters.filters)
                self.notify(
                    f"Live tail of {session.script} prepared again with "
                    f"{count} filter{'s' if count != 1 else ''}",
                    timeout=4,
                )
            else:
                pane.set_filters(FilterSet(session.filters, session.filter_combination))
                self.notify(
                    "Preparing the live tail with those filters failed; the old "
                    f"filters stay: {session.last_error or 'see the log'}",
                    severity="error",
                    timeout=8,
                )

        self.app.run_worker(apply(), group="filters", exclusive=True)

    def action_client_filters(self) -> None:
        from tui.screens.client_filters import ClientFiltersScreen

        session = self._require_session()
        stream = self.livetail.stream_for(session)
        if session is None or stream is None:
            return
        server_text = describe_filters(session.filters, session.filter_combination)

        def apply(result: ClientFilter | None) -> None:
            if result is None or session not in self.livetail.sessions:
                return
            self.livetail.set_client_filter(session, result)
            if session is self.selected:
                self._show_client_filter(stream)

        self.app.push_screen(
            ClientFiltersScreen(stream.client_filter, server_text), apply
        )

    def _show_client_filter(self, stream: SessionStream | None) -> None:
        status = self.status_pane
        status.client_filter = stream.client_filter if stream else None
        status.filtered_out = stream.stream.filtered_out if stream else 0
        status.refresh_status()

    def action_save_events(self) -> None:
        from tui.screens.export import ExportScreen

        session = self._require_session()
        stream = self.livetail.stream_for(session)
        if session is not None and stream is not None:
            self.app.push_screen(ExportScreen(session, events=stream.stream))

    # -- what the App calls --------------------------------------------------

    def refresh_sessions(self) -> None:
        app = self.livetail
        selected = app.selected.session_id if app.selected else None
        self.sessions_table.set_sessions(app.sessions, selected)
        self._show_budget()

    def _show_budget(self) -> None:
        app = self.livetail
        used, planned = app.budget.used(), app.planned_requests()
        text = f"requests {used}/{app.budget.limit} per 5 min · plan {planned:.0f}"
        self.sessions_table.show_budget(text)

    def show_selected(self) -> None:
        session = self.selected
        stream = self.livetail.stream_for(session)
        status = self.status_pane
        status.stream_text = stream.stream.state_text if stream else ""
        status.client_filter = stream.client_filter if stream else None
        status.filtered_out = stream.stream.filtered_out if stream else 0
        status.show(session)
        pane = self.query_one(EventsPane)
        if session is not None and stream is not None:
            pane.show_events(stream.stream.events, stream.stream.state_text)
            pane.set_filters(FilterSet(session.filters, session.filter_combination))
        else:
            pane.clear()
        self.query_one(HistoryTable).show_session(
            session.session_id if session else None
        )
        self.stats_bar.show(self.livetail.stats_for(session))

    def session_changed(self, session: HeartbeatSession) -> None:
        # Rows of the sessions pane are redrawn once a second, in one batch:
        # with many sessions, a repaint per beat costs more than the beats.
        self._dirty.add(session)
        if session is self.selected:
            self.status_pane.refresh_status()

    def add_beat(self, session: HeartbeatSession, beat: Beat) -> None:
        self._dirty.add(session)
        if session is self.selected:
            self.query_one(HistoryTable).add_beat(beat)
            self.status_pane.refresh_status()
            self.stats_bar.show(self.livetail.stats_for(session))

    def tick(self) -> None:
        # Once a second: the countdown, and the rest only if it changed, since
        # every repaint is bytes over SSH.
        if self._dirty:
            dirty, self._dirty = self._dirty, set()
            with self.app.batch_update():
                for session in dirty:
                    if session in self.livetail.sessions:
                        self.sessions_table.update_session(session)
        selected = self.selected
        label, text = countdown_text(selected)
        interval = selected.interval if selected is not None else 0.0
        self.stats_bar.show_countdown(label, text, interval)
        status = self.status_pane
        stream = self.livetail.stream_for(self.selected)
        filtered_out = stream.stream.filtered_out if stream else 0
        if filtered_out != status.filtered_out:
            status.filtered_out = filtered_out
            status.refresh_status()
        self._show_budget()

    # -- selection -----------------------------------------------------------

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if not isinstance(event.data_table, SessionsTable) or event.row_key is None:
            return
        session = self.livetail.session_by_id(int(event.row_key.value or 0))
        if session is not None and session is not self.selected:
            self.livetail.select(session)
            self.show_selected()

    def action_next_session(self) -> None:
        sessions = self.livetail.sessions
        if not sessions:
            return
        current = self.selected
        index = sessions.index(current) if current in sessions else -1
        self.livetail.select(sessions[(index + 1) % len(sessions)])
        self.refresh_sessions()
        self.show_selected()

    # -- actions on the selected session -------------------------------------

    def _require_session(self) -> HeartbeatSession | None:
        session = self.selected
        if session is None:
            key = key_for("add_session", self.livetail.keymap)
            self.notify(f"No session open: press {key} to add one", timeout=3)
        return session

    def action_beat_now(self) -> None:
        if session := self._require_session():
            session.beat_now()
            self.notify(f"Sending a heartbeat for {session.script} now", timeout=2)

    def action_retry(self) -> None:
        session = self._require_session()
        if session is None:
            return
        if session.state not in (State.FAILED, State.RETRYING, State.PAUSED):
            self.notify("The session is not failing; nothing to retry", timeout=3)
            return
        if not self.livetail.may_resume(session):
            return
        session.retry()
        self.notify(f"Retrying {session.script} now", timeout=2)

    def action_toggle_pause(self) -> None:
        session = self._require_session()
        if session is None:
            return
        if session.paused and not self.livetail.may_resume(session):
            return
        session.toggle_pause()
        self.notify(
            f"Paused {session.script}: no heartbeats until you resume"
            if session.paused
            else f"Resumed {session.script}",
            timeout=3,
        )
        self.livetail.budget_changed()
        self.session_changed(session)

    def action_change_interval(self) -> None:
        from tui.screens.interval import IntervalScreen

        session = self._require_session()
        if session is None:
            return

        def apply(seconds: float | None) -> None:
            if seconds is not None:
                self.livetail.request_interval(session, seconds)

        self.app.push_screen(IntervalScreen(session.interval), apply)

    def action_add_session(self) -> None:
        self.livetail.add_session_flow()

    def action_close_session(self) -> None:
        session = self._require_session()
        if session is not None:
            self.app.run_worker(self.livetail.close_session(session), group="navigate")

    def action_failures_only(self) -> None:
        table = self.query_one(HistoryTable)
        table.set_failures_only(not table.failures_only)

    def action_export(self) -> None:
        from tui.screens.export import ExportScreen

        if session := self._require_session():
            self.app.push_screen(ExportScreen(session))

    def action_toggle_theme(self) -> None:
        self.livetail.toggle_theme()

    def action_toggle_bell(self) -> None:
        self.livetail.toggle_bell()

    def action_help(self) -> None:
        self.livetail.action_help()

    def palette_commands(self) -> list[SystemCommand]:
        def key(binding_id: str) -> str:
            if binding_id in KEY_BINDINGS:
                return key_for(binding_id, self.livetail.keymap)
            # A binding that the settings file cannot remap yet.
            bindings = [b for b in self.BINDINGS if isinstance(b, Binding)]
            return next(b.key for b in bindings if b.id == binding_id)

        entries = [
            ("Beat now", "Send a heartbeat at once", "beat_now", self.action_beat_now),
            (
                "Pause or resume",
                "Stop or restart heartbeats",
                "toggle_pause",
                self.action_toggle_pause,
            ),
            (
                "Change interval",
                "Set the seconds between heartbeats",
                "change_interval",
                self.action_change_interval,
            ),
            ("Retry", "Retry a failed session", "retry", self.action_retry),
            (
                "Add session",
                "Pick an account and a Worker",
                "add_session",
                self.action_add_session,
            ),
            (
                "Close session",
                "Stop the selected session",
                "close_session",
                self.action_close_session,
            ),
            (
                "Next session",
                "Select the next session",
                "next_session",
                self.action_next_session,
            ),
            (
                "Failures only",
                "Show only failed beats, or all",
                "failures_only",
                self.action_failures_only,
            ),
            (
                "Export history",
                "Write the history to CSV or JSON Lines",
                "export",
                self.action_export,
            ),
            (
                "Events or history",
                "Switch the lower pane",
                "toggle_view",
                self.action_toggle_view,
            ),
            (
                "Search events",
                "Narrow the live events to a text",
                "search_events",
                self.action_search_events,
            ),
            (
                "Live-tail filters",
                "Edit the server-side filters and prepare the tail again",
                "events_filters",
                self.action_live_filters,
            ),
            (
                "Save events",
                "Write the live events to JSON Lines",
                "save_events",
                self.action_save_events,
            ),
            (
                "Client-side filters",
                "Filter events by header, IP address or sampling rate",
                "client_filters",
                self.action_client_filters,
            ),
            ("Switch theme", "Dark or light", "toggle_theme", self.action_toggle_theme),
            (
                "Bell on failures",
                "Ring the terminal bell when a session fails",
                "toggle_bell",
                self.action_toggle_bell,
            ),
        ]
        return [
            SystemCommand(title, f"{help_text} ({key(binding_id)})", callback)
            for title, help_text, binding_id, callback in entries
        ]
