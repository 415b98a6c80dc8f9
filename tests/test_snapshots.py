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
