"""The Textual app: credentials, pickers, and the session screen.

The App owns the heartbeat session, so closing a dialog or the command
palette never stops it; screens only show what the engine reports.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
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
from tui.credentials import Credential
from tui.engine import HeartbeatSession
from tui.history import Beat, HistoryError, HistoryStore
from tui.text import short_id

if TYPE_CHECKING:
    from tui.cli import Options

log = logging.getLogger(__name__)


def stylesheet_path() -> Path:
    """Find app.tcss inside an installed wheel, else in the source checkout."""
    packaged = Path(str(resources.files("tui"))) / "styles" / "app.tcss"
    if packaged.is_file():
        return packaged
    return Path(__file__).resolve().parent.parent / "styles" / "app.tcss"


class LiveTailApp(App[int]):
    """Pick an account and a Worker, then keep its live tail alive."""

    TITLE = "cf-livetail"
    CSS_PATH = stylesheet_path()
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("ctrl+q", "quit", "Quit", priority=True, id="quit_ctrl_q"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, id="quit_ctrl_c"),
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
        self.session: HeartbeatSession | None = None
        self.account: Account | None = None
        self.accounts: list[Account] = []
        self.script: str | None = None
        self.verified = False
        # --account with --script (or CLOUDFLARE_ACCOUNT_ID) skips the pickers
        # once, at start; a choice made in a picker is never overridden.
        self.skip_pickers = options.skip_pickers
        self.sub_title = "demo API" if demo else ""
        self.crash_message: str | None = None

    # -- start and stop ------------------------------------------------------

    def on_mount(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGHUP):
            try:
                loop.add_signal_handler(signum, self._on_signal, signum)
            except (NotImplementedError, RuntimeError):
                log.debug("cannot handle signal %s here", signum)
        if self.store is None:
            try:
                self.store = HistoryStore(paths.history_db())
            except HistoryError as exc:
                self.notify(f"{exc}; history is kept in memory only", severity="error")
                self.store = HistoryStore(None)
        if self.store.notice:
            self.notify(self.store.notice, severity="warning", timeout=15)
        for notice in self.config.notices:
            self.notify(notice, severity="warning", timeout=15)
        if self.credential is None:
            from tui.screens.token import TokenScreen

            self.push_screen(TokenScreen())
        else:
            self.show_accounts()

    def _on_signal(self, signum: int) -> None:
        log.info("received %s, quitting", signal.Signals(signum).name)
        self.exit(0)

    async def action_quit(self) -> None:
        # Stop the worker first so no request outlives the terminal.
        await self.stop_session()
        self.exit(0)

    async def on_unmount(self) -> None:
        await self.stop_session()
        if self.store is not None:
            self.store.close()

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

        self.switch_to(AccountScreen())

    def switch_to(self, screen: Screen) -> None:
        """Replace every screen on the stack with ``screen``."""
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.push_screen(screen)

    def credential_ready(self, credential: Credential) -> None:
        self.credential = credential
        self.verified = False
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
        from tui.screens.session import SessionScreen

        await self.stop_session()
        self.account = account
        self.script = script
        self.config.last_account_id = account.id
        self.config.last_account_name = account.name
        self.config.last_script = script
        problem = settings_mod.save(self.config)
        if problem:
            self.notify(problem, severity="warning")
        self.session = self._new_session(account, script)
        demo = " · demo API" if self.demo else ""
        self.sub_title = f"{account.name} ({short_id(account.id)}) · {script}{demo}"
        self.switch_to(SessionScreen(self.session))
        self.session.start()

    def _new_session(self, account: Account, script: str) -> HeartbeatSession:
        assert self.credential is not None and self.store is not None
        client = self.new_client()
        return HeartbeatSession(
            client,
            account.id,
            account.name,
            script,
            self.options.args.interval,
            store=self.store,
            on_beat=self._on_beat,
            on_status=self._on_status,
        )

    def new_client(self) -> CloudflareClient:
        assert self.credential is not None
        return CloudflareClient(
            self.options.base_url, self.credential, ca_bundle=self.config.ca_bundle
        )

    async def stop_session(self) -> None:
        session, self.session = self.session, None
        if session is not None:
            await session.stop()

    async def back_to_pickers(self) -> None:
        await self.stop_session()
        self.sub_title = "demo API" if self.demo else ""
        self.show_accounts()

    def remember_interval(self, seconds: float) -> None:
        self.options.args.interval = seconds
        self.config.interval = seconds
        problem = settings_mod.save(self.config)
        if problem:
            self.notify(problem, severity="warning")

    # -- engine callbacks ----------------------------------------------------

    def _visible_session_screen(self, session: HeartbeatSession | None):
        """Return the session screen on top showing ``session``, else None."""
        from tui.screens.session import SessionScreen

        stack = self.screen_stack
        for screen in reversed(stack):
            if isinstance(screen, SessionScreen) and screen.session is session:
                return screen
        return None

    def _on_beat(self, beat: Beat) -> None:
        # A screen that is not mounted yet loads this beat from the store.
        screen = self._visible_session_screen(self.session)
        if screen is not None and screen.ready:
            screen.add_beat(beat)

    def _on_status(self, session: HeartbeatSession) -> None:
        screen = self._visible_session_screen(session)
        if screen is not None and screen.ready:
            screen.refresh_status()

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
