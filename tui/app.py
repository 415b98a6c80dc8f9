"""The Textual app: credentials, pickers, and the sessions screen.

The App owns the heartbeat sessions, so closing a dialog or the command
palette never stops one; screens only show what the engines report.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from tui import paths
from tui import settings as settings_mod
from tui.api import Account, CloudflareClient
from tui.budget import RequestBudget, planned_requests
from tui.credentials import Credential
from tui.engine import HeartbeatSession, State
from tui.history import Beat, HistoryError, HistoryStore
from tui.keys import check_keymap
from tui.stats import SessionStats
from tui.text import plural, short_id

if TYPE_CHECKING:
    from tui.cli import Options
    from tui.client_filter import ClientFilter
    from tui.events import EventLine
    from tui.screens.session import SessionScreen
    from tui.session_stream import SessionStream

log = logging.getLogger(__name__)

# State changes that raise a notification: (from, to) -> severity.
NOTIFY_ON = {
    (State.ALIVE, State.RETRYING): "warning",
    (State.RETRYING, State.FAILED): "error",
    (State.STARTING, State.FAILED): "error",
    (State.ALIVE, State.FAILED): "error",
    (State.RETRYING, State.ALIVE): "information",
    (State.FAILED, State.ALIVE): "information",
}
# After a "retrying" or "recovered" toast, the same session's next such toast
# waits this many seconds: a flapping session would otherwise cover the
# screen. Failures are always shown.
FLAP_QUIET = 60.0


def stylesheet_path() -> Path:
    """Find app.tcss inside an installed wheel, else in the source checkout."""
    packaged = Path(str(resources.files("tui"))) / "styles" / "app.tcss"
    if packaged.is_file():
        return packaged
    return Path(__file__).resolve().parent.parent / "styles" / "app.tcss"


# Seconds a quit on SIGTERM or SIGHUP may take before the process ends anyway.
QUIT_GRACE = 3.0


def _exit_after(seconds: float) -> None:
    """End the process after ``seconds`` if the app has not exited by then.

    Each beat is committed to the history database when it is stored, and
    the open sessions are saved when the quit starts.
    """
    threading.Event().wait(seconds)
    log.warning("the app did not exit %g s after the signal; ending it", seconds)
    for handler in logging.getLogger().handlers:
        try:
            handler.flush()
        except Exception:  # noqa: BLE001 - the process ends either way
            pass
    os._exit(0)


class LiveTailApp(App[int]):
    """Pick accounts and Workers, then keep their live tails alive."""

    TITLE = "cf-livetail"
    CSS_PATH = stylesheet_path()
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("ctrl+q", "quit", "Quit", priority=True, id="quit_ctrl_q"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, id="quit_ctrl_c"),
        Binding("f1", "help", "Help", show=False, id="help_global"),
    ]

    def __init__(
        self,
        options: Options,
        credential: Credential | None,
        config: settings_mod.Settings,
        *,
        demo: bool = False,
        store: HistoryStore | None = None,
    ):
        super().__init__()
        self.options = options
        self.credential = credential
        self.config = config
        self.demo = demo
        self.store = store
        self.sessions: list[HeartbeatSession] = []
        self.selected: HeartbeatSession | None = None
        self.budget = RequestBudget()
        self._stats: dict[int, SessionStats] = {}
        # The live events stream of each session, by session id.
        self.streams: dict[int, SessionStream] = {}
        self._last_state: dict[int, State] = {}
        # Per session: when its last "retrying" or "recovered" toast was shown,
        # and how many changes were not shown since.
        self._last_toast: dict[int, float] = {}
        self._unshown: dict[int, int] = {}
        self.account: Account | None = None
        self.accounts: list[Account] = []
        self.account_notes: list[str] = []
        self.script: str | None = None
        self.verified = False
        # --account with --script (or CLOUDFLARE_ACCOUNT_ID) skips the pickers
        # once, at start; a choice made in a picker is never overridden.
        self.skip_pickers = options.skip_pickers
        self.crash_message: str | None = None
        self.keymap, self.key_notices = check_keymap(config.keys)
        self.theme = "textual-light" if config.theme == "light" else "textual-dark"
        self._main: SessionScreen | None = None
        self._quitting = False

    @property
    def session(self) -> HeartbeatSession | None:
        """The selected session (kept for callers that know only one)."""
        return self.selected

    # -- start and stop ------------------------------------------------------

    def on_mount(self) -> None:
        self.set_keymap(self.keymap)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGHUP):
            try:
                loop.add_signal_handler(signum, self._on_signal, signum)
            except (NotImplementedError, RuntimeError):
                log.debug("cannot handle signal %s here", signum)
        if self.store is None and self.demo:
            # Demo beats stay out of the real history, and end with the app.
            self.store = HistoryStore(None)
        if self.store is None:
            try:
                self.store = HistoryStore(paths.history_db())
            except HistoryError as exc:
                self.notify(f"{exc}; history is kept in memory only", severity="error")
                self.store = HistoryStore(None)
        if self.store.notice:
            self.notify(self.store.notice, severity="warning", timeout=15)
        for notice in self.options.notices + self.config.notices + self.key_notices:
            self.notify(notice, severity="warning", timeout=15)
        if self.options.config_note:
            self.notify(self.options.config_note, timeout=10)
        self._update_sub_title()
        if self.credential is None:
            from tui.screens.token import TokenScreen

            self.push_screen(TokenScreen())
        elif self.config.open_sessions and not self.skip_pickers and not self.demo:
            self._offer_reopen()
        else:
            self.show_accounts()

    def _offer_reopen(self) -> None:
        from tui.screens.confirm import ConfirmScreen

        previous = self.config.open_sessions
        names = ", ".join(f"{s.script} ({s.account_name})" for s in previous[:3])
        more = f" and {len(previous) - 3} more" if len(previous) > 3 else ""

        def answer(reopen: bool | None) -> None:
            if reopen:
                self.run_worker(self._reopen(), group="navigate")
            else:
                self.config.open_sessions = []
                self.show_accounts()

        self.push_screen(
            ConfirmScreen(
                f"Reopen the {plural(len(previous), 'session')} open when "
                f"cf-livetail last quit? {names}{more}",
                yes="Reopen",
                no="Start fresh",
            ),
            answer,
        )

    async def _reopen(self) -> None:
        previous = self.config.open_sessions
        for entry in previous:
            account = Account(entry.account_id, entry.account_name)
            self._start_session(account, entry.script, entry.interval, entry.session_id)
        self.show_main()

    def _on_signal(self, signum: int) -> None:
        log.info("received %s, quitting", signal.Signals(signum).name)
        if not self._quitting:
            # When the terminal is gone (an SSH connection dropped), Textual
            # can block for ever writing to it while it shuts down.
            threading.Thread(
                target=_exit_after, args=(QUIT_GRACE,), name="quit-guard", daemon=True
            ).start()
        self.run_worker(self.action_quit(), group="quit")

    async def action_quit(self) -> None:
        # Stop every worker first so no request outlives the terminal.
        if self._quitting:
            return
        self._quitting = True
        self._remember_open_sessions()
        await self.stop_all()
        self.exit(0)

    async def on_unmount(self) -> None:
        await self.stop_all()
        if self.store is not None:
            self.store.close()

    def _remember_open_sessions(self) -> None:
        if self.demo:
            # Demo sessions and choices must not follow the user to the real API.
            return
        self.config.open_sessions = [
            settings_mod.OpenSession(
                s.session_id, s.account_id, s.account_name, s.script, s.interval
            )
            for s in self.sessions
        ]
        self._save_settings()

    def _save_settings(self) -> None:
        problem = settings_mod.save(self.config)
        if problem:
            self.notify(problem, severity="warning")

    def _handle_exception(self, error: Exception) -> None:
        # NOTE: overrides a private Textual hook (checked against Textual 8.2)
        # so that an unexpected error ends the app with one line on stderr and
        # its stack in the log file, never a traceback on the screen.
        log.error("unexpected error in the UI", exc_info=error)
        self.crash_message = (
            f"unexpected error: {type(error).__name__}: {error} "
            f"(details in {paths.log_file()})"
        )
        self._return_code = 1
        if self._exception is None:
            self._exception = error
            self._exception_event.set()
        self._close_messages_no_wait()

    # -- navigation ----------------------------------------------------------

    def show_accounts(self) -> None:
        from tui.screens.accounts import AccountScreen

        if self.sessions:
            self.push_screen(AccountScreen())
        else:
            self.switch_to(AccountScreen())

    def show_main(self) -> None:
        """Show the sessions screen alone on the stack."""
        from tui.screens.session import SessionScreen

        if self._main in self.screen_stack:
            while self.screen is not self._main:
                self.pop_screen()
            self._main.refresh_sessions()
            self._main.show_selected()
            return
        # A screen popped off the stack is discarded; build a new one.
        self._main = SessionScreen()
        self.switch_to(self._main)

    def switch_to(self, screen: Screen) -> None:
        """Replace every screen on the stack with ``screen``."""
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.push_screen(screen)

    def add_session_flow(self) -> None:
        self.show_accounts()

    def leave_pickers(self) -> None:
        """Escape from the account picker: back to the sessions, if any."""
        if self.sessions:
            self.show_main()

    def credential_ready(self, credential: Credential) -> None:
        """Use a credential entered in the app (already verified)."""
        self.credential = credential
        if self.sessions:
            self.pop_screen()
        else:
            self.show_accounts()

    def preselected_account(self) -> tuple[str | None, str]:
        """Return the account to highlight first, and where that choice came from."""
        if self.account is not None:
            return self.account.id, "your last choice"
        if self.options.account is not None:
            return self.options.account, self.options.account_source or "--account"
        if self.config.last_account_id:
            return self.config.last_account_id, "the last session"
        return None, ""

    def preselected_script(self, account: Account) -> tuple[str | None, str]:
        """Return the Worker to highlight first, and where that choice came from."""
        if self.script is not None and self.account == account:
            return self.script, "your last choice"
        if self.options.script is not None:
            return self.options.script, self.options.script_source or "--script"
        if self.config.last_script and self.config.last_account_id == account.id:
            return self.config.last_script, "the last session"
        return None, ""

    def account_chosen(self, account: Account) -> None:
        from tui.screens.scripts import ScriptScreen

        self.account = account
        self.push_screen(ScriptScreen(account))

    async def script_chosen(self, account: Account, script: str) -> None:
        self.account = account
        self.script = script
        existing = next(
            (
                s
                for s in self.sessions
                if s.account_id == account.id and s.script == script
            ),
            None,
        )
        if existing is not None:
            self.notify(f"{script} in {account.name} is already open", timeout=3)
            self.select(existing)
            self.show_main()
            return
        interval = self.options.args.interval
        verdict, planned = self.budget.check_plan(
            [s.interval for s in self._beating()] + [interval]
        )
        if verdict == "over":
            self.notify(
                f"Not opened: with {script} every {interval:g} s the sessions would "
                f"plan {planned:.0f} requests per 5 minutes, over Cloudflare's limit "
                f"of {self.budget.limit}. Close a session or use a longer interval.",
                severity="error",
                timeout=10,
            )
            return
        if verdict == "warn":
            from tui.screens.confirm import ConfirmScreen

            confirmed = await self.push_screen_wait(
                ConfirmScreen(
                    f"With {script} every {interval:g} s the sessions plan "
                    f"{planned:.0f} requests per 5 minutes, over 80% of the limit "
                    f"of {self.budget.limit}. Open it anyway?",
                    yes="Open",
                    no="Cancel",
                )
            )
            if not confirmed:
                return
        if not self.demo:
            self.config.last_account_id = account.id
            self.config.last_account_name = account.name
            self.config.last_script = script
        self._start_session(account, script, interval)
        self._remember_open_sessions()
        self.show_main()

    def _start_session(
        self,
        account: Account,
        script: str,
        interval: float,
        session_id: int | None = None,
    ) -> HeartbeatSession:
        assert self.credential is not None and self.store is not None
        # The filter flags of the command line apply to every session.
        filters = self.options.filters
        session = HeartbeatSession(
            self.new_client(),
            account.id,
            account.name,
            script,
            interval,
            store=self.store,
            on_beat=self._on_beat,
            on_status=self._on_status,
            session_id=session_id,
            filters=filters.server,
        )
        # Imported here: websockets adds start-up time the pickers do not need.
        from tui.session_stream import SessionStream

        self.streams[session.session_id] = SessionStream(
            session,
            base_url=self.options.base_url,
            credential=self.credential,
            on_event=lambda line, s=session: self._on_event(s, line),
            on_state=lambda text, s=session: self._on_stream_state(s, text),
            ca_bundle=self.config.ca_bundle,
            client_filter=filters.client if filters.client.active else None,
        )
        self.sessions.append(session)
        self._stats[session.session_id] = SessionStats.from_store(
            self.store, session.session_id
        )
        self._last_state[session.session_id] = session.state
        self.select(session)
        session.start()
        return session

    def new_client(self) -> CloudflareClient:
        assert self.credential is not None
        return CloudflareClient(
            self.options.base_url,
            self.credential,
            ca_bundle=self.config.ca_bundle,
            budget=self.budget,
        )

    def select(self, session: HeartbeatSession) -> None:
        self.selected = session
        self._update_sub_title()

    def session_by_id(self, session_id: int) -> HeartbeatSession | None:
        return next((s for s in self.sessions if s.session_id == session_id), None)

    def stats_for(self, session: HeartbeatSession | None) -> SessionStats | None:
        return None if session is None else self._stats.get(session.session_id)

    async def close_session(self, session: HeartbeatSession) -> None:
        if session not in self.sessions:
            return
        index = self.sessions.index(session)
        self.sessions.remove(session)
        stream = self.streams.pop(session.session_id, None)
        if stream is not None:
            await stream.stop()
        await session.stop()
        self._stats.pop(session.session_id, None)
        if self.selected is session:
            self.selected = (
                self.sessions[min(index, len(self.sessions) - 1)]
                if self.sessions
                else None
            )
        self._remember_open_sessions()
        self.notify(f"Closed {session.script} ({session.account_name})", timeout=3)
        self._update_sub_title()
        if self._main is not None and self.screen is self._main:
            self._main.refresh_sessions()
            self._main.show_selected()

    async def stop_all(self) -> None:
        sessions, self.sessions = self.sessions, []
        streams, self.streams = list(self.streams.values()), {}
        await asyncio.gather(*(s.stop() for s in streams), return_exceptions=True)
        await asyncio.gather(*(s.stop() for s in sessions), return_exceptions=True)

    # -- budget and settings -------------------------------------------------

    def _beating(self) -> list[HeartbeatSession]:
        return [s for s in self.sessions if s.state not in (State.PAUSED, State.FAILED)]

    def planned_requests(self) -> float:
        return planned_requests(s.interval for s in self._beating())

    def budget_changed(self) -> None:
        if self._main is not None and self.screen is self._main:
            self._main.refresh_sessions()

    def may_resume(self, session: HeartbeatSession) -> bool:
        """Return whether a paused or failed session may beat again.

        Sessions that neither beat nor retry are out of the plan, so bringing
        one back is checked like opening it. Over the limit it stays as it
        is. Over 80% it resumes with a warning.
        """
        if session in self._beating():
            return True
        others = [s.interval for s in self._beating()]
        verdict, planned = self.budget.check_plan([*others, session.interval])
        if verdict == "over":
            self.notify(
                f"Not resumed: with {session.script} every {session.interval:g} s "
                f"the sessions would plan {planned:.0f} requests per 5 minutes, "
                f"over the limit of {self.budget.limit}. Pause or close another "
                "session, or give this one a longer interval.",
                severity="error",
                timeout=10,
            )
            return False
        if verdict == "warn":
            self.notify(
                f"The sessions now plan {planned:.0f} requests per 5 minutes, "
                f"over 80% of the limit of {self.budget.limit}",
                severity="warning",
                timeout=6,
            )
        return True

    def request_interval(self, session: HeartbeatSession, seconds: float) -> None:
        """Change a session's interval unless the budget forbids it."""
        others = [s.interval for s in self._beating() if s is not session]
        verdict, planned = self.budget.check_plan([*others, seconds])
        if verdict == "over":
            self.notify(
                f"Interval not changed: {seconds:g} s would plan {planned:.0f} "
                f"requests per 5 minutes, over the limit of {self.budget.limit}",
                severity="error",
                timeout=8,
            )
            return

        def apply() -> None:
            session.set_interval(seconds)
            self.options.args.interval = seconds
            if not self.demo:
                # A demo interval must not carry over to the real API.
                self.config.interval = seconds
                self._remember_open_sessions()
            self.notify(f"{session.script}: interval set to {seconds:g} s", timeout=3)
            self.budget_changed()
            if self._main is not None:
                self._main.session_changed(session)

        if verdict == "warn" and seconds < session.interval:
            from tui.screens.confirm import ConfirmScreen

            def answer(confirmed: bool | None) -> None:
                if confirmed:
                    apply()

            self.push_screen(
                ConfirmScreen(
                    f"At {seconds:g} s the sessions plan {planned:.0f} requests per "
                    f"5 minutes, over 80% of the limit of {self.budget.limit}. "
                    "Change it anyway?",
                    yes="Change",
                    no="Cancel",
                ),
                answer,
            )
            return
        apply()

    def toggle_theme(self) -> None:
        light = self.theme != "textual-light"
        self.theme = "textual-light" if light else "textual-dark"
        self.config.theme = "light" if light else "dark"
        self._save_settings()

    def toggle_bell(self) -> None:
        self.config.bell = not self.config.bell
        self._save_settings()
        state = "on" if self.config.bell else "off"
        self.notify(f"Terminal bell on failures: {state}", timeout=3)

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def _update_sub_title(self) -> None:
        parts = []
        session = self.selected
        if session is not None:
            parts.append(
                f"{session.account_name} ({short_id(session.account_id)}) · "
                f"{session.script}"
            )
        if len(self.sessions) > 1:
            parts.append(f"{len(self.sessions)} sessions")
        if self.demo:
            parts.append("demo API")
        self.sub_title = " · ".join(parts)

    # -- engine callbacks ----------------------------------------------------

    def _main_ready(self) -> SessionScreen | None:
        main = self._main
        if main is not None and main.ready and main.is_attached:
            return main
        return None

    def _on_beat(self, beat: Beat) -> None:
        session = self.session_by_id(beat.session_id)
        if session is None:
            return
        self._follow(session)
        stats = self._stats.get(session.session_id)
        if stats is not None:
            stats.add(beat)
        # A screen that is not mounted yet loads this beat from the store.
        main = self._main_ready()
        if main is not None:
            main.add_beat(session, beat)

    def _follow(self, session: HeartbeatSession) -> None:
        """Start or move the session's event stream when its wsUrl changed."""
        stream = self.streams.get(session.session_id)
        if stream is not None and not self._quitting:
            stream.follow()

    def stream_for(self, session: HeartbeatSession | None) -> SessionStream | None:
        return None if session is None else self.streams.get(session.session_id)

    def set_client_filter(
        self, session: HeartbeatSession, client_filter: ClientFilter
    ) -> None:
        """Check the session's events from now on with ``client_filter``."""
        stream = self.streams.get(session.session_id)
        if stream is None:
            return
        stream.set_client_filter(client_filter if client_filter.active else None)
        described = client_filter.describe() or "none, every event is shown"
        log.info(
            "client-side filters of %s/%s: %s",
            session.account_id,
            session.script,
            described,
        )
        self.notify(f"{session.script}: client-side filters {described}", timeout=4)

    def _on_event(self, session: HeartbeatSession, line: EventLine) -> None:
        main = self._main_ready()
        if main is not None and session is self.selected:
            main.add_event(line)

    def _on_stream_state(self, session: HeartbeatSession, text: str) -> None:
        main = self._main_ready()
        if main is not None and session is self.selected:
            main.set_stream_state(text)

    def _on_status(self, session: HeartbeatSession) -> None:
        self._follow(session)
        previous = self._last_state.get(session.session_id)
        self._last_state[session.session_id] = session.state
        if previous is not None and previous is not session.state:
            self._notify_state(session, previous)
        main = self._main_ready()
        if main is not None and session in self.sessions:
            main.session_changed(session)

    def _notify_state(self, session: HeartbeatSession, previous: State) -> None:
        severity = NOTIFY_ON.get((previous, session.state))
        if severity is None or self._quitting:
            return
        key = session.session_id
        if severity != "error":
            now = time.monotonic()
            last = self._last_toast.get(key)
            if last is not None and now - last < FLAP_QUIET:
                self._unshown[key] = self._unshown.get(key, 0) + 1
                return
            self._last_toast[key] = now
        name = f"{session.script} ({session.account_name})"
        if session.state is State.ALIVE:
            message = f"{name} recovered"
        elif session.state is State.RETRYING:
            message = f"{name} is retrying: {session.last_error}"
        else:
            message = f"{name} failed: {session.last_error}"
        unshown = self._unshown.pop(key, 0)
        if unshown:
            message += f" ({plural(unshown, 'earlier change')} not shown)"
        # Short-lived: at 80x24 a stack of these would cover dialogs.
        self.notify(message, severity=severity, timeout=4)  # type: ignore[arg-type]
        if severity == "error" and self.config.bell:
            self.bell()

    # -- command palette -----------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from getattr(screen, "palette_commands", lambda: [])()


def run_app(
    options: Options,
    credential: Credential | None,
    config: settings_mod.Settings,
    *,
    demo: bool = False,
) -> int:
    from tui.logsetup import scrub

    app = LiveTailApp(options, credential, config, demo=demo)
    result = app.run()
    if app.crash_message:
        print(f"cf-livetail: {scrub(app.crash_message)}", file=sys.stderr)
        return 1
    if app.return_code not in (0, None):
        return app.return_code
    return result or 0
