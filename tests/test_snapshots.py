"""SVG snapshots of screens whose content does not depend on time or ports."""

from __future__ import annotations

from tests.apphelpers import make_app, wait_for
from tui.demo import data
from tui.screens.picker import PickerScreen
from tui.screens.scripts import ScriptScreen

ACCOUNT = next(a for a in data.ACCOUNTS if a["name"] == "Personal")


def test_worker_picker_80x24(snap_compare, demo):
    app = make_app(demo, "--account", ACCOUNT["id"])

    async def until_listed(pilot) -> None:
        def listed() -> bool:
            screen = app.screen
            if not isinstance(screen, ScriptScreen):
                return False
            return bool(screen.choices)

        assert await wait_for(listed)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=until_listed)


def test_worker_picker_filtered_60x20(snap_compare, demo):
    app = make_app(demo, "--account", ACCOUNT["id"])

    async def filter_list(pilot) -> None:
        assert await wait_for(
            lambda: (
                isinstance(app.screen, PickerScreen)
                and isinstance(app.screen, ScriptScreen)
                and bool(app.screen.choices)
            )
        )
        await pilot.press(*"edge")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(60, 20), run_before=filter_list)


def _stalled_app(server, *argv: str):
    """An app whose sessions stay in 'starting': the API never replies.

    Nothing on screen then depends on the clock, so the snapshot is stable.
    """
    from tests.faultserver import Reply

    server.set_default(Reply(delay=60))
    return make_app(server, *argv)


def _sessions_screen_snapshot(snap_compare, size: tuple[int, int]) -> bool:
    from tests.faultserver import FaultServer
    from tui.api import Account
    from tui.screens.session import SessionScreen

    with FaultServer().start() as server:
        app = _stalled_app(server)

        async def open_sessions(pilot) -> None:
            for account in data.ACCOUNTS[:3]:
                script = data.SCRIPTS_BY_ACCOUNT_ID[account["id"]][0]["id"]
                app._start_session(Account(account["id"], account["name"]), script, 30)
            app.show_main()
            assert await wait_for(
                lambda: isinstance(app.screen, SessionScreen) and app.screen.ready
            )
            assert server.wait_for_requests(3, timeout=5)
            app.screen.refresh_sessions()
            await pilot.pause()

        return snap_compare(app, terminal_size=size, run_before=open_sessions)


def test_sessions_screen_80x24(snap_compare):
    assert _sessions_screen_snapshot(snap_compare, (80, 24))


def test_sessions_screen_60x20(snap_compare):
    assert _sessions_screen_snapshot(snap_compare, (60, 20))
