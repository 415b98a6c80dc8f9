"""The live-tail WebSocket client against the demo server and a hostile one."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from tests.apphelpers import wait_for
from tui.api import CloudflareClient
from tui.credentials import Credential
from tui.demo import data
from tui.demo.server import DEMO_TOKEN, DemoServer
from tui.engine import HeartbeatSession
from tui.stream import (
    LiveStream,
    StreamState,
    UnsafeUrlError,
    backoff_delay,
    check_ws_url,
    same_origin,
)

ACCOUNT = data.ACCOUNTS[0]["id"]
SCRIPT = data.SCRIPTS_BY_ACCOUNT_ID[ACCOUNT][0]["id"]
FAST = {"backoff_base": 0.02, "backoff_cap": 0.1}

Plan = Callable[[ServerConnection], Awaitable[None]]


def numbered(first: int, last: int) -> list[str]:
    """Frames whose $metadata.id counts from ``first`` to ``last``."""
    return [
        json.dumps({"$metadata": {"id": str(n), "message": f"event {n}"}})
        for n in range(first, last + 1)
    ]


def ids(stream: LiveStream) -> list[int]:
    return [int(line.raw["$metadata"]["id"]) for line in stream.events]


class HostileServer:
    """A WebSocket server on loopback that misbehaves on purpose.

    Each connection runs the next plan (the last one repeats). The next
    handshakes get the HTTP statuses in ``statuses`` instead of an upgrade.
    """

    def __init__(self, *plans: Plan):
        self.plans = list(plans) or [hang]
        self.statuses: list[int] = []
        self.handshakes: list[tuple[str, dict[str, str]]] = []
        self.connections = 0
        self.server: Server | None = None
        self.port = 0

    async def __aenter__(self) -> HostileServer:
        self.server = await serve(
            self._handle, "127.0.0.1", 0, process_request=self._process
        )
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    def url(self, path: str = "/tail/session-1") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def _process(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        headers = {name.lower(): value for name, value in request.headers.raw_items()}
        self.handshakes.append((request.path, headers))
        if not self.statuses:
            return None
        status = self.statuses.pop(0)
        response = connection.respond(status, "rejected by the test server\n")
        if 300 <= status < 400:
            response.headers["Location"] = "/redirected"
        return response

    async def _handle(self, connection: ServerConnection) -> None:
        plan = self.plans[min(self.connections, len(self.plans) - 1)]
        self.connections += 1
        await plan(connection)


async def hang(connection: ServerConnection) -> None:
    await connection.wait_closed()


def send_then_abort(frames: list[str | bytes]) -> Plan:
    async def plan(connection: ServerConnection) -> None:
        for frame in frames:
            await connection.send(frame)
        await asyncio.sleep(0.05)
        connection.transport.abort()

    return plan


def send_then_close(frames: list[str | bytes], code: int, reason: str = "") -> Plan:
    async def plan(connection: ServerConnection) -> None:
        for frame in frames:
            await connection.send(frame)
        await connection.close(code, reason)

    return plan


def send_then_hang(frames: list[str | bytes]) -> Plan:
    async def plan(connection: ServerConnection) -> None:
        for frame in frames:
            await connection.send(frame)
        await connection.wait_closed()

    return plan


@pytest.fixture
def fast_demo():
    """The demo API with a fast, seeded event stream."""
    with DemoServer(latency=(0.0, 0.0), seed=7, event_rate=400) as server:
        yield server


async def prepare(server: DemoServer, filters=None, combination="and") -> str:
    credential = Credential.api_token(DEMO_TOKEN, "the demo API")
    async with CloudflareClient(server.base_url, credential) as client:
        result = await client.prepare_live_tail(
            ACCOUNT, SCRIPT, filters=filters, filter_combination=combination
        )
    assert result.ok, result.message
    return result.extra["ws_url"]


# -- URL rules ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "wss://live.example.com/tail/1",
        "ws://127.0.0.1:9/x",
        "ws://[::1]:9/x",
        "ws://localhost/x",
    ],
)
def test_allowed_urls(url):
    assert check_ws_url(url) == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ws://example.com/x", "plain ws:// to example.com is not allowed"),
        ("ws://10.0.0.1/x", "plain ws:// to 10.0.0.1 is not allowed"),
        ("http://127.0.0.1/x", "invalid live-tail URL"),
        ("wss://user:pw@example.com/x", "user name or password"),
        ("not a url", "invalid live-tail URL"),
    ],
)
def test_rejected_urls(url, reason):
    with pytest.raises(UnsafeUrlError, match=reason):
        check_ws_url(url)


@pytest.mark.parametrize(
    ("ws_url", "api", "expected"),
    [
        ("wss://api.cloudflare.com/x", "https://api.cloudflare.com/client/v4", True),
        ("wss://api.cloudflare.com:443/x", "https://api.cloudflare.com/v4", True),
        ("wss://tail.cloudflare.com/x", "https://api.cloudflare.com/v4", False),
        ("wss://api.cloudflare.com:8443/x", "https://api.cloudflare.com/v4", False),
        ("ws://api.cloudflare.com/x", "https://api.cloudflare.com/v4", False),
        ("ws://127.0.0.1:80/x", "http://127.0.0.1/client/v4", True),
    ],
)
def test_same_origin(ws_url, api, expected):
    assert same_origin(ws_url, api) is expected


def test_backoff_grows_to_cap_with_jitter():
    assert backoff_delay(1, 1.0, 30.0, rng=lambda: 0.0) == 0.5
    assert backoff_delay(3, 1.0, 30.0, rng=lambda: 1.0) == 4.0
    assert backoff_delay(50, 1.0, 30.0, rng=lambda: 1.0) == 30.0
    assert backoff_delay(50, 1.0, 30.0, rng=lambda: 0.0) == 15.0


async def test_invalid_scheme_closes_stream():
    states: list[str] = []
    stream = LiveStream("http://127.0.0.1:9/x", on_state=states.append)
    stream.start()
    assert await wait_for(lambda: stream.state is StreamState.CLOSED)
    assert "invalid live-tail URL" in states[-1]
    assert stream.connections == 0
    await stream.stop()


# -- against the demo server -----------------------------------------------------


async def test_demo_events_arrive(fast_demo):
    url = await prepare(fast_demo)
    states: list[str] = []
    received = []
    stream = LiveStream(url, on_event=received.append, on_state=states.append, **FAST)
    stream.start()
    try:
        assert await wait_for(lambda: stream.received >= 30)
    finally:
        await stream.stop()
    assert states[0].startswith("connecting to ws://127.0.0.1")
    assert states[1].startswith("open: ws://127.0.0.1")
    assert states[-1] == "closed: stopped"
    assert len(received) == stream.received
    assert all(line.request_id for line in received)
    assert any(line.outcome == "ok" for line in received)
    services = {line.raw["$metadata"]["service"] for line in received}
    assert services == {SCRIPT}


async def test_demo_sends_no_credentials_to_another_origin(fast_demo):
    url = await prepare(fast_demo)
    credential = Credential.api_token(DEMO_TOKEN, "the demo API")
    stream = LiveStream(
        url,
        api_base_url=fast_demo.base_url,
        credential_headers=credential.headers(),
        **FAST,
    )
    stream.start()
    try:
        assert await wait_for(lambda: stream.received > 0)
    finally:
        await stream.stop()
    handshake = fast_demo.live_tail.handshakes[-1]
    assert "authorization" not in handshake.headers
    assert handshake.headers["user-agent"] == "cf-livetail"


async def test_demo_reconnects_after_drop(fast_demo):
    url = await prepare(fast_demo)
    states: list[str] = []
    stream = LiveStream(url, on_state=states.append, **FAST)
    stream.start()
    try:
        assert await wait_for(lambda: stream.received >= 5)
        before = stream.received
        fast_demo.live_tail.drop_connections()
        assert await wait_for(lambda: stream.connections == 2)
        assert await wait_for(lambda: stream.received > before + 5)
    finally:
        await stream.stop()
    assert any(s.startswith("reconnecting: closed with") for s in states)
    assert stream.url == url


async def test_demo_404_handshake_refreshes_url(fast_demo):
    url = await prepare(fast_demo)
    refreshed: list[str] = []

    async def refresh() -> str:
        new_url = await prepare(fast_demo)
        refreshed.append(new_url)
        return new_url

    states: list[str] = []
    stream = LiveStream(url, refresh_url=refresh, on_state=states.append, **FAST)
    stream.start()
    try:
        assert await wait_for(lambda: stream.received > 0)
        fast_demo.live_tail.forget()
        fast_demo.live_tail.drop_connections()
        assert await wait_for(lambda: stream.connections == 2)
        assert await wait_for(lambda: stream.state is StreamState.OPEN)
    finally:
        await stream.stop()
    assert len(refreshed) == 1
    assert stream.url == refreshed[0]
    assert stream.url != url
    statuses = [h.status for h in fast_demo.live_tail.handshakes]
    assert statuses == [101, 404, 101]
    assert any("HTTP 404" in s and "preparing the live tail again" in s for s in states)


async def test_demo_session_end_close_code_refreshes(fast_demo):
    url = await prepare(fast_demo)
    calls = 0

    async def refresh() -> str:
        nonlocal calls
        calls += 1
        return await prepare(fast_demo)

    stream = LiveStream(url, refresh_url=refresh, **FAST)
    stream.start()
    try:
        assert await wait_for(lambda: stream.received > 0)
        # Forgotten while connected: the demo closes with 4404 at its next event.
        fast_demo.live_tail.forget()
        assert await wait_for(lambda: stream.connections == 2)
    finally:
        await stream.stop()
    assert stream.close_code == 4404
    assert calls == 1
    statuses = [h.status for h in fast_demo.live_tail.handshakes]
    assert statuses == [101, 101]


async def test_engine_refresh_gives_fresh_url(fast_demo):
    credential = Credential.api_token(DEMO_TOKEN, "the demo API")
    client = CloudflareClient(fast_demo.base_url, credential)
    session = HeartbeatSession(
        client, ACCOUNT, "Acme", SCRIPT, 30, filters=[], filter_combination="and"
    )
    first = await session.refresh_ws_url()
    second = await session.refresh_ws_url()
    await session.stop()
    assert first is not None
    assert second is not None
    assert first != second
    assert session.ws_url == second
    assert len(fast_demo.live_tail.sessions()) == 2


async def test_refresh_failure_retries(fast_demo):
    url = await prepare(fast_demo)
    answers: list[str | None] = [None, None]

    async def refresh() -> str | None:
        if answers:
            return answers.pop(0)
        return await prepare(fast_demo)

    states: list[str] = []
    fast_demo.live_tail.forget()
    stream = LiveStream(url, refresh_url=refresh, on_state=states.append, **FAST)
    stream.start()
    try:
        assert await wait_for(lambda: stream.received > 0)
    finally:
        await stream.stop()
    failures = [s for s in states if "preparing the live tail again failed" in s]
    assert len(failures) == 2


async def test_no_refresh_callback_closes_on_404(fast_demo):
    url = await prepare(fast_demo)
    fast_demo.live_tail.forget()
    stream = LiveStream(url, **FAST)
    stream.start()
    assert await wait_for(lambda: stream.state is StreamState.CLOSED)
    assert "HTTP 404" in stream.state_text
    await stream.stop()


# -- against the hostile server --------------------------------------------------


async def test_no_event_lost_across_reconnect(tmp_path):
    path = tmp_path / "events.jsonl"
    async with HostileServer(
        send_then_abort(numbered(1, 5)), send_then_hang(numbered(6, 10))
    ) as server:
        stream = LiveStream(server.url(), append_path=path, **FAST)
        stream.start()
        try:
            assert await wait_for(lambda: stream.received == 10)
        finally:
            await stream.stop()
    assert ids(stream) == list(range(1, 11))
    assert stream.connections == 2
    written = [json.loads(line) for line in path.read_text().splitlines()]
    assert [int(r["raw"]["$metadata"]["id"]) for r in written] == list(range(1, 11))


async def test_ring_is_bounded():
    async with HostileServer(send_then_hang(numbered(1, 25))) as server:
        stream = LiveStream(server.url(), ring_size=10, **FAST)
        stream.start()
        try:
            assert await wait_for(lambda: stream.received == 25)
        finally:
            await stream.stop()
    assert len(stream.events) == 10
    assert stream.evicted == 15
    assert ids(stream) == list(range(16, 26))


async def test_save_jsonl_writes_ring(tmp_path):
    async with HostileServer(
        send_then_hang([*numbered(1, 3), b"\xff\xfe", "oops"])
    ) as server:
        stream = LiveStream(server.url(), **FAST)
        stream.start()
        try:
            assert await wait_for(lambda: stream.received == 5)
        finally:
            await stream.stop()
    path = tmp_path / "saved.jsonl"
    assert stream.save_jsonl(path) == 5
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(records) == 5
    assert records[0]["message"] == "event 1"
    assert records[3]["raw"]["size"] == 2
    assert records[4]["raw"] == "oops"
    assert all(r["time"].endswith("Z") for r in records)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


async def test_save_jsonl_to_missing_directory_raises(tmp_path):
    stream = LiveStream("ws://127.0.0.1:9/x")
    with pytest.raises(OSError):
        stream.save_jsonl(tmp_path / "missing" / "events.jsonl")


async def test_4xx_handshake_without_refresh_closes():
    async with HostileServer() as server:
        server.statuses = [403]
        stream = LiveStream(server.url(), **FAST)
        stream.start()
        assert await wait_for(lambda: stream.state is StreamState.CLOSED)
        assert "HTTP 403" in stream.state_text
        await stream.stop()
    assert "HTTP 403" in stream.state_text


async def test_5xx_handshake_retries_same_url():
    async with HostileServer(send_then_hang(numbered(1, 1))) as server:
        server.statuses = [503, 502]
        refreshes = 0

        async def refresh() -> str:
            nonlocal refreshes
            refreshes += 1
            return server.url("/tail/fresh")

        stream = LiveStream(server.url(), refresh_url=refresh, **FAST)
        stream.start()
        try:
            assert await wait_for(lambda: stream.received == 1)
        finally:
            await stream.stop()
    assert refreshes == 0
    assert [path for path, _ in server.handshakes] == ["/tail/session-1"] * 3


async def test_redirect_is_not_followed():
    async with HostileServer(send_then_hang(numbered(1, 1))) as server:
        server.statuses = [302]
        stream = LiveStream(server.url(), **FAST)
        stream.start()
        try:
            assert await wait_for(lambda: stream.received == 1)
        finally:
            await stream.stop()
    paths = [path for path, _ in server.handshakes]
    assert "/redirected" not in paths
    assert paths == ["/tail/session-1", "/tail/session-1"]


async def test_credentials_only_to_api_origin():
    async with HostileServer(send_then_hang(numbered(1, 1))) as server:
        headers = {"Authorization": "Bearer secret-token"}
        other = LiveStream(
            server.url(),
            api_base_url="http://127.0.0.1:1/client/v4",
            credential_headers=headers,
            **FAST,
        )
        same = LiveStream(
            server.url(),
            api_base_url=f"http://127.0.0.1:{server.port}/client/v4",
            credential_headers=headers,
            **FAST,
        )
        for stream in (other, same):
            stream.start()
            try:
                assert await wait_for(lambda s=stream: s.received == 1)
            finally:
                await stream.stop()
    assert "authorization" not in server.handshakes[0][1]
    assert server.handshakes[1][1]["authorization"] == "Bearer secret-token"


async def test_garbage_frames_do_not_stop_stream():
    frames: list[str | bytes] = [
        "{not json",
        b"\x00\x01",
        "",
        "[]",
        "[[[",
        *numbered(1, 1),
    ]
    async with HostileServer(send_then_hang(frames)) as server:
        stream = LiveStream(server.url(), **FAST)
        stream.start()
        try:
            assert await wait_for(lambda: stream.received == 6)
        finally:
            await stream.stop()
    assert stream.events[-1].message == "event 1"
    assert stream.state is StreamState.CLOSED
    assert stream.connections == 1


async def test_failing_callback_does_not_stop_stream():
    def explode(line) -> None:
        raise RuntimeError("callback bug")

    async with HostileServer(send_then_hang(numbered(1, 3))) as server:
        stream = LiveStream(server.url(), on_event=explode, **FAST)
        stream.start()
        try:
            assert await wait_for(lambda: stream.received == 3)
        finally:
            await stream.stop()
    assert ids(stream) == [1, 2, 3]


async def test_normal_close_reconnects():
    async with HostileServer(
        send_then_close(numbered(1, 2), 1000, "bye"), send_then_hang(numbered(3, 4))
    ) as server:
        refreshes = 0

        async def refresh() -> str:
            nonlocal refreshes
            refreshes += 1
            return server.url()

        stream = LiveStream(server.url(), refresh_url=refresh, **FAST)
        stream.start()
        try:
            assert await wait_for(lambda: stream.received == 4)
        finally:
            await stream.stop()
    assert refreshes == 0
    assert stream.close_code == 1000
    assert stream.close_reason == "bye"


async def test_reconnect_switches_url():
    async with HostileServer(send_then_hang(numbered(1, 1))) as server:
        stream = LiveStream(server.url(), **FAST)
        stream.start()
        try:
            assert await wait_for(lambda: stream.received == 1)
            stream.reconnect(server.url("/tail/session-2"))
            assert await wait_for(lambda: stream.received == 2)
        finally:
            await stream.stop()
    assert stream.url == server.url("/tail/session-2")
    assert [p for p, _ in server.handshakes] == ["/tail/session-1", "/tail/session-2"]


# -- stopping --------------------------------------------------------------------


async def timed_stop(stream: LiveStream) -> float:
    started = time.monotonic()
    await stream.stop()
    return time.monotonic() - started


async def test_stop_open_connection_is_prompt():
    async with HostileServer(hang) as server:
        stream = LiveStream(server.url(), **FAST)
        stream.start()
        assert await wait_for(lambda: stream.state is StreamState.OPEN)
        assert await timed_stop(stream) < 1.0
    assert stream.task is not None
    assert stream.task.done()


async def test_stop_during_backoff_is_prompt():
    async with HostileServer() as server:
        server.statuses = [503] * 100
        stream = LiveStream(server.url(), backoff_base=30.0, backoff_cap=30.0)
        stream.start()
        assert await wait_for(lambda: stream.state is StreamState.RECONNECTING)
        assert await timed_stop(stream) < 0.5
    assert stream.state is StreamState.CLOSED


async def test_stop_during_stalled_handshake_is_prompt():
    async def never_answer(reader, writer) -> None:
        await asyncio.sleep(30)

    tcp = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = tcp.sockets[0].getsockname()[1]
    stream = LiveStream(f"ws://127.0.0.1:{port}/x", open_timeout=30.0)
    stream.start()
    try:
        assert await wait_for(lambda: stream.state is StreamState.CONNECTING)
        await asyncio.sleep(0.1)
        assert await timed_stop(stream) < 0.5
    finally:
        tcp.close()
        await tcp.wait_closed()


async def test_stop_twice_is_harmless():
    stream = LiveStream("ws://127.0.0.1:9/x", **FAST)
    stream.start()
    await stream.stop()
    await stream.stop()
    assert stream.state is StreamState.CLOSED


async def test_append_file_is_private_and_closed_on_stop(tmp_path: Path):
    path = tmp_path / "tail.jsonl"
    async with HostileServer(send_then_hang(numbered(1, 2))) as server:
        stream = LiveStream(server.url(), append_path=path, **FAST)
        stream.start()
        try:
            assert await wait_for(lambda: stream.received == 2)
            assert len(path.read_text().splitlines()) == 2
        finally:
            await stream.stop()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stream.append_path == path


async def test_demo_server_stop_is_prompt_with_client():
    # A slow stream, so the server spends its time waiting between events.
    demo = DemoServer(latency=(0.0, 0.0), seed=3, event_rate=0.2).start()
    try:
        url = await prepare(demo)
        stream = LiveStream(url, **FAST)
        stream.start()
        assert await wait_for(lambda: stream.state is StreamState.OPEN)
        started = time.monotonic()
        await asyncio.to_thread(demo.stop)
        elapsed = time.monotonic() - started
        assert await wait_for(lambda: stream.state is StreamState.RECONNECTING)
        await stream.stop()
    finally:
        demo.stop()
    assert elapsed < 0.5
    assert stream.close_code == 1001


async def test_reconnect_during_backoff_is_immediate():
    async with HostileServer(send_then_hang(numbered(1, 1))) as server:
        server.statuses = [503]
        stream = LiveStream(server.url(), backoff_base=30.0, backoff_cap=30.0)
        stream.start()
        try:
            assert await wait_for(lambda: stream.state is StreamState.RECONNECTING)
            stream.reconnect(server.url("/tail/session-2"))
            assert await wait_for(lambda: stream.received == 1, timeout=1.0)
        finally:
            await stream.stop()
    assert [p for p, _ in server.handshakes] == ["/tail/session-1", "/tail/session-2"]
