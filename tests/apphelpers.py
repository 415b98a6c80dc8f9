"""Build the Textual app the way the command line does, for Pilot tests."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

from tui import settings
from tui.app import LiveTailApp
from tui.cli import build_parser, resolve_options
from tui.credentials import Credential
from tui.demo.server import DEMO_TOKEN, DemoServer


def make_app(server: DemoServer, *argv: str) -> LiveTailApp:
    """Return an app against ``server`` with the demo token, as `cf-livetail ARGV`."""
    args = build_parser().parse_args(["--base-url", server.base_url, *argv])
    if args.interval is None:
        args.interval = 30.0
    options = resolve_options(args, dict(os.environ))
    credential = Credential.api_token(DEMO_TOKEN, "the demo API")
    return LiveTailApp(options, credential, settings.load())


async def wait_for(
    condition: Callable[[], bool], timeout: float = 5.0, step: float = 0.02
) -> bool:
    """Poll ``condition`` until it is true or ``timeout`` seconds pass."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if condition():
            return True
        await asyncio.sleep(step)
    return condition()
