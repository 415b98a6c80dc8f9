"""Regenerate the SVG screenshots in this folder from the demo app.

Run from the repository root: ``python screenshots/generate.py``. The app runs
headless against the embedded demo API on loopback, with its files kept in a
temporary directory, so nothing of the user's own setup shows.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZE = (100, 30)


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
    from tui.app import LiveTailApp
    from tui.cli import build_parser, resolve_options
    from tui.credentials import Credential
    from tui.demo.server import DEMO_TOKEN, DemoServer
    from tui.screens.accounts import AccountScreen
    from tui.screens.scripts import ScriptScreen
    from tui.screens.session import SessionScreen

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
            await wait_for(
                lambda: isinstance(app.screen, SessionScreen)
                and app.session is not None
                and app.session.beats_sent >= 6,
                pilot,
                timeout=20,
            )
            await pilot.pause(0.2)
            app.save_screenshot("session.svg", str(HERE))
            await pilot.press("q")


def main() -> int:
    isolate()
    sys.path.insert(0, str(HERE.parent))
    asyncio.run(capture())
    for name in ("account-picker.svg", "worker-picker.svg", "session.svg"):
        print(HERE / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
