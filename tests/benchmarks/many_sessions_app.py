"""Launch the TUI with many heartbeat sessions, for the many-sessions benchmark.

Run in a pseudo-terminal as ``python -m tests.benchmarks.many_sessions_app``.
The app starts as `cf-livetail --account A --script S` would, so the first
session opens through the pickers. Once it is open, the others are started
on the app's event loop through ``LiveTailApp._start_session``, each on its
own demo account and Worker.

NOTE: this goes round two parts of the app on purpose. The app has no public
call that opens a session without the pickers, and it refuses (in
``script_chosen``) any set of sessions that would plan more requests than
Cloudflare's 1,200 per 5 minutes; 50 sessions at 1 s plan 15,000. So the
app's RequestBudget is replaced with one whose limit no run can reach.
"""

from __future__ import annotations

import argparse
import os
import sys

from tui import settings
from tui.api import Account
from tui.app import LiveTailApp
from tui.budget import RequestBudget
from tui.cli import build_parser, resolve_options
from tui.credentials import Credential
from tui.demo.data import ACCOUNTS, SCRIPTS_BY_ACCOUNT_ID
from tui.logsetup import setup_logging
from tui.screens.session import SessionScreen

UNREACHABLE_LIMIT = 10**9


def session_targets(count: int) -> list[tuple[Account, str]]:
    """Return ``count`` distinct (account, Worker) pairs from the demo data."""
    pairs = [
        (Account(account["id"], account["name"]), script["id"])
        for account in ACCOUNTS
        for script in SCRIPTS_BY_ACCOUNT_ID[account["id"]]
    ]
    if len(pairs) < count:
        raise SystemExit(f"the demo data has only {len(pairs)} Workers, not {count}")
    return pairs[:count]


class ManySessionsApp(LiveTailApp):
    """The app, plus a timer that opens the other sessions once the first is shown."""

    def __init__(self, *args, targets: list[tuple[Account, str]], **kw):
        super().__init__(*args, **kw)
        self.targets = targets
        self.budget = RequestBudget(limit=UNREACHABLE_LIMIT)

    def on_mount(self) -> None:
        # Textual also runs LiveTailApp.on_mount, as it runs the handler of
        # every class in the MRO, so this one must not call it again.
        self._opener = self.set_interval(0.1, self._open_rest)

    def _open_rest(self) -> None:
        # Wait until the first session's screen is mounted, because show_main()
        # refreshes that screen's widgets.
        screen = self.screen
        if not (isinstance(screen, SessionScreen) and screen.ready):
            return
        self._opener.stop()
        interval = self.options.args.interval
        for account, script in self.targets[1:]:
            self._start_session(account, script, interval)
        self.show_main()


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the TUI with many sessions.")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()

    setup_logging(debug=False)
    targets = session_targets(args.sessions)
    first_account, first_script = targets[0]
    argv = ["--base-url", args.base_url, "--interval", f"{args.interval:g}"]
    argv += ["--account", first_account.id, "--script", first_script]
    options = resolve_options(build_parser().parse_args(argv), dict(os.environ))
    credential = Credential.api_token(os.environ["CLOUDFLARE_API_TOKEN"], "benchmark")
    app = ManySessionsApp(options, credential, settings.load(), targets=targets)
    app.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
