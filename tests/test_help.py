"""The help screen names each binding's id and shows keys as users type them."""

from __future__ import annotations

from tests.apphelpers import make_app, wait_for
from tests.test_sessions import ACME, plain, script_of, start_with_acme
from tui.screens.help import HelpScreen


async def test_help_lists_binding_ids_and_signs(demo, isolated_dirs):
    config_dir = isolated_dirs / ".config" / "cf-livetail"
    config_dir.mkdir(parents=True)
    (config_dir / "settings.toml").write_text('[keys]\nbeat_now = "k"\n')
    app = make_app(demo, "--account", ACME["id"], "--script", script_of(ACME))
    async with app.run_test(size=(100, 40)) as pilot:
        await start_with_acme(pilot, app)
        await pilot.press("f1")
        assert await wait_for(lambda: isinstance(app.screen, HelpScreen))
        lines = plain(app.screen.render_help()).splitlines()

    search = next(line for line in lines if "search the live events" in line)
    beat = next(line for line in lines if "send a heartbeat now" in line)
    assert search.split()[0] == "/"
    assert search.rstrip().endswith("search_events")
    assert beat.split()[0] == "k"
    assert beat.rstrip().endswith("beat_now")
