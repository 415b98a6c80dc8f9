"""Resuming a paused session or retrying a failed one is checked against the budget."""

from __future__ import annotations

from tests.apphelpers import make_app, wait_for
from tests.test_sessions import ACME, add_session, on_main, script_of, start_with_acme
from tui.engine import State
from tui.screens.confirm import ConfirmScreen


async def open_four_at_one_second(app, pilot) -> None:
    """Open Acme's first four Workers at 1 s: 1,200 requests per 5 minutes."""
    await start_with_acme(pilot, app)
    for index in (1, 2, 3):
        await add_session(app, pilot, "Acme Robotics", index)
        if index == 3:
            assert await wait_for(lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
        assert await wait_for(lambda n=index + 1: len(app.sessions) == n)
        assert await wait_for(lambda: on_main(app))


async def test_resume_over_the_limit_is_rejected(demo):
    app = make_app(
        demo, "--account", ACME["id"], "--script", script_of(ACME), "--interval", "1"
    )
    async with app.run_test(size=(100, 40)) as pilot:
        await open_four_at_one_second(app, pilot)
        paused = app.session
        await pilot.press("p")
        assert await wait_for(lambda: paused.state is State.PAUSED)
        # A fifth session fits now, because the paused one is out of the plan.
        await add_session(app, pilot, "Acme Robotics", 4)
        assert await wait_for(lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        assert await wait_for(lambda: len(app.sessions) == 5)
        assert await wait_for(lambda: on_main(app))
        app.select(paused)
        await pilot.pause(0.1)

        await pilot.press("p")
        await pilot.pause(0.3)

        assert paused.state is State.PAUSED
        assert app.planned_requests() <= app.budget.limit


async def test_resume_within_the_limit_works(demo):
    app = make_app(
        demo, "--account", ACME["id"], "--script", script_of(ACME), "--interval", "1"
    )
    async with app.run_test(size=(100, 40)) as pilot:
        await open_four_at_one_second(app, pilot)
        paused = app.session
        await pilot.press("p")
        assert await wait_for(lambda: paused.state is State.PAUSED)

        await pilot.press("p")

        assert await wait_for(lambda: paused.state is not State.PAUSED)
        assert app.planned_requests() <= app.budget.limit
