"""The demo leaves the real history and the sessions to reopen alone."""

from __future__ import annotations

import os

from tests.apphelpers import wait_for
from tui import paths, settings
from tui.app import LiveTailApp
from tui.cli import build_parser, resolve_options
from tui.credentials import Credential
from tui.demo.server import DEMO_TOKEN
from tui.screens.accounts import AccountScreen
from tui.screens.confirm import ConfirmScreen


def make_demo_app(demo) -> LiveTailApp:
    args = build_parser().parse_args(["--base-url", demo.base_url])
    args.interval = 30.0
    options = resolve_options(args, dict(os.environ))
    config = settings.load()
    config.open_sessions = [
        settings.OpenSession(7, "f" * 32, "Real account", "real-worker", 30.0)
    ]
    credential = Credential.api_token(DEMO_TOKEN, "the demo API")
    return LiveTailApp(options, credential, config, demo=True)


async def test_demo_does_not_offer_real_sessions(demo):
    app = make_demo_app(demo)
    async with app.run_test(size=(80, 24)):
        assert await wait_for(lambda: isinstance(app.screen, AccountScreen))
        assert not any(isinstance(s, ConfirmScreen) for s in app.screen_stack)


async def test_demo_keeps_its_history_in_memory(demo):
    app = make_demo_app(demo)
    async with app.run_test(size=(80, 24)):
        assert await wait_for(lambda: app.store is not None)
        assert app.store.path is None
    assert not paths.history_db().exists()
