"""A session's event stream follows its wsUrl and its filters."""

from __future__ import annotations

from tests.apphelpers import wait_for
from tui.api import CloudflareClient
from tui.credentials import Credential
from tui.demo import data
from tui.demo.server import DEMO_TOKEN, DemoServer
from tui.engine import HeartbeatSession
from tui.session_stream import SessionStream
from tui.stream import StreamState

ACCOUNT = data.ACCOUNTS[0]["id"]
SCRIPT = data.SCRIPTS_BY_ACCOUNT_ID[ACCOUNT][0]["id"]
CREDENTIAL = Credential.api_token(DEMO_TOKEN, "the demo API")
ONLY_WARNINGS = [
    {"key": "$metadata.level", "operation": "eq", "type": "string", "value": "warn"}
]


def make_session(demo: DemoServer) -> tuple[HeartbeatSession, SessionStream]:
    client = CloudflareClient(demo.base_url, CREDENTIAL)
    holder: list[SessionStream] = []
    session = HeartbeatSession(
        client,
        ACCOUNT,
        "Acme",
        SCRIPT,
        30,
        on_beat=lambda beat: holder[0].follow(),
        on_status=lambda current: holder[0].follow(),
    )
    events = SessionStream(session, base_url=demo.base_url, credential=CREDENTIAL)
    holder.append(events)
    return session, events


async def test_stream_starts_after_prepare():
    with DemoServer(latency=(0.0, 0.0), seed=2, event_rate=300) as demo:
        session, events = make_session(demo)
        assert events.started is False
        session.start()
        try:
            assert await wait_for(lambda: events.stream.received > 0)
        finally:
            await events.stop()
            await session.stop()
    assert events.started is True
    assert events.stream.url == session.ws_url
    assert events.stream.connections == 1


async def test_apply_filters_moves_stream():
    with DemoServer(latency=(0.0, 0.0), seed=2, event_rate=600) as demo:
        session, events = make_session(demo)
        session.start()
        try:
            assert await wait_for(lambda: events.stream.received > 0)
            first_url = events.stream.url
            assert await events.apply_filters(ONLY_WARNINGS, "and")
            assert await wait_for(lambda: events.stream.url != first_url)
            before = events.stream.received
            assert await wait_for(lambda: events.stream.received >= before + 10)
            new_lines = list(events.stream.events)[before:]
        finally:
            await events.stop()
            await session.stop()
        tails = demo.live_tail.sessions()
    assert session.filters == ONLY_WARNINGS
    assert tails[-1].filters == ONLY_WARNINGS
    assert all(line.level == "warn" for line in new_lines)


async def test_failed_filter_change_keeps_old_filters():
    with DemoServer(latency=(0.0, 0.0), seed=2, event_rate=300) as demo:
        session, events = make_session(demo)
        session.start()
        try:
            assert await wait_for(lambda: events.stream.received > 0)
            url = events.stream.url
            demo.stop()
            changed = await events.apply_filters(ONLY_WARNINGS, "and")
        finally:
            await events.stop()
            await session.stop()
    assert changed is False
    assert session.filters == []
    assert session.filter_combination == "and"
    assert events.stream.url == url
    assert events.stream.state is StreamState.CLOSED


async def test_stop_before_start_is_harmless():
    with DemoServer(latency=(0.0, 0.0)) as demo:
        session, events = make_session(demo)
        await events.stop()
        await session.stop()
    assert events.started is False
