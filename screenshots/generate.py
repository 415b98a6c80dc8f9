"""Regenerate the SVG screenshots in this folder from the demo app.

Run from the repository root: ``python screenshots/generate.py``. The app runs
headless against the embedded demo API on loopback, with its files kept in a
temporary directory, so nothing of the user's own setup shows.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZE = (100, 32)
NAMES = (
    "account-picker.svg",
    "worker-picker.svg",
    "session.svg",
    "history-failures.svg",
    "events.svg",
    "help.svg",
)


def isolate() -> None:
    home = Path(tempfile.mkdtemp(prefix="cf-livetail-shots-"))
    for name, sub in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_STATE_HOME", "state"),
    ):
        os.environ[name] = str(home / sub)
    for name in list(os.environ):
        if name.startswith("CLOUDFLARE_"):
            del os.environ[name]


async def wait_for(condition, pilot, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise TimeoutError("the demo app did not reach the expected screen")


async def capture() -> None:
    from tui import settings
    from tui.api import Account
    from tui.app import LiveTailApp
    from tui.cli import build_parser, resolve_options
    from tui.credentials import Credential
    from tui.demo import data
    from tui.demo.server import DEMO_TOKEN, DemoServer
    from tui.screens.accounts import AccountScreen
    from tui.screens.help import HelpScreen
    from tui.screens.scripts import ScriptScreen
    from tui.screens.session import SessionScreen

    acme = next(a for a in data.ACCOUNTS if a["name"] == "Acme Robotics")
    personal = next(a for a in data.ACCOUNTS if a["name"] == "Personal")
    with DemoServer() as server:
        args = build_parser().parse_args(["--base-url", server.base_url])
        args.interval = 2.0
        options = resolve_options(args, dict(os.environ))
        credential = Credential.api_token(DEMO_TOKEN, "the demo API")
        app = LiveTailApp(options, credential, settings.load(), demo=True)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(
                lambda: isinstance(app.screen, AccountScreen) and app.screen.choices,
                pilot,
            )
            app.save_screenshot("account-picker.svg", str(HERE))
            await pilot.press(*"acme", "enter")
            await wait_for(
                lambda: isinstance(app.screen, ScriptScreen) and app.screen.choices,
                pilot,
            )
            app.save_screenshot("worker-picker.svg", str(HERE))
            await pilot.press("enter")
            await wait_for(lambda: isinstance(app.screen, SessionScreen), pilot)
            # Two more sessions; search-proxy is the demo's flaky Worker.
            personal_script = data.SCRIPTS_BY_ACCOUNT_ID[personal["id"]][0]["id"]
            app._start_session(
                Account(personal["id"], personal["name"]), personal_script, 2.0
            )
            flaky = app._start_session(
                Account(acme["id"], acme["name"]), "search-proxy", 1.0
            )
            app.show_main()
            await wait_for(
                lambda: flaky.beats_sent >= 10 and flaky.state.value == "alive",
                pilot,
                timeout=40,
            )
            await pilot.pause(0.3)
            app.save_screenshot("session.svg", str(HERE))
            await pilot.press("f")
            await pilot.pause(0.3)
            app.save_screenshot("history-failures.svg", str(HERE))
            await pilot.press("f", "v")
            await pilot.pause(1.0)
            app.save_screenshot("events.svg", str(HERE))
            await pilot.press("f1")
            await wait_for(lambda: isinstance(app.screen, HelpScreen), pilot)
            await pilot.pause(0.2)
            app.save_screenshot("help.svg", str(HERE))
            await pilot.press("escape", "q")


def main() -> int:
    isolate()
    # The app logs to a file when run normally; here the log is not wanted.
    logging.getLogger().addHandler(logging.NullHandler())
    sys.path.insert(0, str(HERE.parent))
    asyncio.run(capture())
    for name in NAMES:
        print(HERE / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
