"""The kept-alive connection that carries the POST calls (tui/http1.py).

FaultServer covers the replies an API sends; RawServer below sends byte
strings that FaultServer cannot: chunked bodies, repeated headers, a
"100 Continue" first, and bytes that are not HTTP at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.faultserver import FaultServer, Reply
from tui import envelope as env
from tui import http1
from tui.api import CloudflareClient
from tui.credentials import Credential

ACCOUNT_ID = "0123456789abcdef0123456789abcdef"
SCRIPT = "my-worker"
OK_BODY = b'{"success":true,"errors":[],"messages":[],"result":{}}'


def make_client(base_url: str, timeout: float = 5.0) -> CloudflareClient:
    return CloudflareClient(
        base_url, Credential.api_token("test-token", source="test"), timeout=timeout
    )


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as fault_server:
        yield fault_server


class RawServer:
    """A loopback server that replies to each request with the next scripted bytes."""

    def __init__(self, replies: list[bytes]):
        self.replies = list(replies)
        self.connections = 0
        self.heads: list[bytes] = []
        self._server: asyncio.Server | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/client/v4"

    async def start(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.connections += 1
        try:
            while self.replies:
                head = await reader.readuntil(b"\r\n\r\n")
                self.heads.append(head)
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                writer.write(self.replies.pop(0))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def raw() -> AsyncIterator[list[RawServer]]:
    servers: list[RawServer] = []
    yield servers
    for raw_server in servers:
        await raw_server.stop()


async def start_raw(servers: list[RawServer], *replies: bytes) -> RawServer:
    raw_server = await RawServer(list(replies)).start()
    servers.append(raw_server)
    return raw_server


def ok_reply(extra: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + extra
        + b"Content-Length: "
        + str(len(OK_BODY)).encode()
        + b"\r\n\r\n"
        + OK_BODY
    )


async def test_beats_share_one_connection(server: FaultServer) -> None:
    async with make_client(server.base_url) as client:
        results = [await client.heartbeat(ACCOUNT_ID, SCRIPT) for _ in range(3)]

    assert [r.outcome for r in results] == [env.OK] * 3
    assert len({request.connection_id for request in server.requests}) == 1
    request = server.requests[0]
    assert request.headers["host"] == f"127.0.0.1:{server.port}"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "cf-livetail"
    assert request.headers["accept"] == "application/json"
    assert request.headers["authorization"] == "Bearer test-token"
    assert request.json() == {"scriptId": SCRIPT}


async def test_ipv6_loopback_host_header() -> None:
    with FaultServer(host="::1") as server:
        async with make_client(server.base_url) as client:
            result = await client.heartbeat(ACCOUNT_ID, SCRIPT)

        assert result.ok
        assert server.requests[0].headers["host"] == f"[::1]:{server.port}"


async def test_connection_close_reply_opens_a_new_connection(
    server: FaultServer,
) -> None:
    server.enqueue(Reply(close_after=True))

    async with make_client(server.base_url) as client:
        first = await client.heartbeat(ACCOUNT_ID, SCRIPT)
        second = await client.heartbeat(ACCOUNT_ID, SCRIPT)

    assert first.ok and second.ok
    one, two = server.requests
    assert one.connection_id != two.connection_id


async def test_idle_connection_is_not_reused_after_expiry(
    server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http1, "KEEPALIVE_EXPIRY", 0.0)

    async with make_client(server.base_url) as client:
        await client.heartbeat(ACCOUNT_ID, SCRIPT)
        await client.heartbeat(ACCOUNT_ID, SCRIPT)

    one, two = server.requests
    assert one.connection_id != two.connection_id


async def test_cancelled_request_does_not_poison_the_connection(
    server: FaultServer,
) -> None:
    server.enqueue(Reply(delay=1.0))

    async with make_client(server.base_url) as client:
        task = asyncio.create_task(client.heartbeat(ACCOUNT_ID, SCRIPT))
        assert await asyncio.to_thread(server.wait_for_requests, 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The late reply to the cancelled request must not be read as this one's.
        after = await client.heartbeat(ACCOUNT_ID, SCRIPT)

    assert after.ok
    one, two = server.requests
    assert one.connection_id != two.connection_id


async def test_chunked_reply_with_repeated_headers(raw: list[RawServer]) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        b"cf-ray: first\r\ncf-ray: second\r\nTransfer-Encoding: chunked\r\n\r\n"
        + f"{len(OK_BODY[:10]):x}\r\n".encode()
        + OK_BODY[:10]
        + b"\r\n"
        + f"{len(OK_BODY[10:]):x}\r\n".encode()
        + OK_BODY[10:]
        + b"\r\n0\r\n\r\n"
    )
    server = await start_raw(raw, chunked, ok_reply())

    async with make_client(server.base_url) as client:
        first = await client.heartbeat(ACCOUNT_ID, SCRIPT)
        second = await client.heartbeat(ACCOUNT_ID, SCRIPT)

    assert first.ok and second.ok
    assert first.ray == "first, second"
    assert server.connections == 1


async def test_continue_before_the_reply(raw: list[RawServer]) -> None:
    server = await start_raw(raw, b"HTTP/1.1 100 Continue\r\n\r\n" + ok_reply())

    async with make_client(server.base_url) as client:
        result = await client.heartbeat(ACCOUNT_ID, SCRIPT)

    assert result.ok


async def test_bytes_that_are_not_http(raw: list[RawServer]) -> None:
    server = await start_raw(raw, b"SSH-2.0-OpenSSH_9.2\r\n\r\n", ok_reply())

    async with make_client(server.base_url) as client:
        bad = await client.heartbeat(ACCOUNT_ID, SCRIPT)
        good = await client.heartbeat(ACCOUNT_ID, SCRIPT)

    assert bad.outcome == env.NETWORK_ERROR
    assert bad.message == (
        'not an HTTP/1.1 reply: invalid status line "SSH-2.0-OpenSSH_9.2"'
    )
    assert good.ok
    assert server.connections == 2


# Bytes that are not HTTP: control characters, an escape sequence, bytes
# above 0x7f, and more than an error message quotes.
RANDOM_BYTES = b"w\xec\x99\x01\x02\x1b[2J\x7f\xa0" + b"z" * 100 + b"\r\n\r\n"
# Control characters become "?", the no-break space a space, and the quote
# stops at 40 characters, the last of them "…".
RANDOM_BYTES_QUOTED = '"w\u00ec????[2J? ' + "z" * 28 + '\u2026"'


async def test_random_bytes_are_quoted_readably(raw: list[RawServer]) -> None:
    server = await start_raw(raw, RANDOM_BYTES)

    async with make_client(server.base_url) as client:
        result = await client.heartbeat(ACCOUNT_ID, SCRIPT)

    assert result.outcome == env.NETWORK_ERROR
    assert result.message == (
        f"not an HTTP/1.1 reply: invalid status line {RANDOM_BYTES_QUOTED}"
    )


async def test_random_bytes_through_httpx_read_the_same(
    raw: list[RawServer],
) -> None:
    server = await start_raw(raw, RANDOM_BYTES)

    async with make_client(server.base_url) as client:
        result = await client.call("GET", "/user/tokens/verify")

    assert result.outcome == env.NETWORK_ERROR
    assert result.message == (
        f"not an HTTP/1.1 reply: invalid status line {RANDOM_BYTES_QUOTED}"
    )


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "illegal header line: bytearray(b'a\\x00b')",
            'invalid header line "a?b"',
        ),
        ("Illegal header name bytearray(b'a b')", 'invalid header name "a b"'),
        (
            'illegal chunk header: bytearray(b"it\'s")',
            'invalid chunk header "it\'s"',
        ),
        ("illegal status line: bytearray(b'end\\\\')", 'invalid status line "end\\"'),
        ("bad Content-Length", "bad Content-Length"),
    ],
)
def test_protocol_errors_read_without_reprs(message: str, expected: str) -> None:
    assert http1.describe_protocol_error(message) == expected


async def test_connect_timeout_names_the_step(
    monkeypatch: pytest.MonkeyPatch, server: FaultServer
) -> None:
    async def never_connects(*args: object, **kwargs: object) -> None:
        await asyncio.sleep(10)

    monkeypatch.setattr(asyncio, "open_connection", never_connects)

    async with make_client(server.base_url, timeout=0.2) as client:
        result = await client.heartbeat(ACCOUNT_ID, SCRIPT, deadline=5.0)

    assert result.outcome == env.TIMEOUT
    assert result.message == "timed out (ConnectTimeout)"
    assert server.requests == []


@pytest.mark.parametrize(
    ("environment", "through_httpx"),
    [
        ({}, False),
        ({"HTTPS_PROXY": "http://127.0.0.1:9"}, True),
        ({"https_proxy": "http://127.0.0.1:9"}, True),
        ({"ALL_PROXY": "http://127.0.0.1:9"}, True),
        ({"HTTP_PROXY": "http://127.0.0.1:9"}, False),
        (
            {"HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": "api.example.invalid"},
            False,
        ),
    ],
)
async def test_posts_go_through_httpx_when_a_proxy_applies(
    monkeypatch: pytest.MonkeyPatch,
    environment: dict[str, str],
    through_httpx: bool,
) -> None:
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    # No request is sent: the test only looks at how the client is built.
    client = make_client("https://api.example.invalid/client/v4")
    try:
        assert (client._posts is None) is through_httpx
    finally:
        await client.aclose()


async def test_loopback_ignores_proxies(
    monkeypatch: pytest.MonkeyPatch, server: FaultServer
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")

    async with make_client(server.base_url) as client:
        result = await client.heartbeat(ACCOUNT_ID, SCRIPT)

    assert client._posts is not None
    assert result.ok


async def test_post_while_another_is_in_flight(server: FaultServer) -> None:
    # The live tail is prepared again while a slow heartbeat waits: neither
    # request may cut the other off.
    server.enqueue(Reply(delay=0.5))
    async with make_client(server.base_url) as client:
        slow = asyncio.create_task(client.heartbeat(ACCOUNT_ID, SCRIPT, deadline=3.0))
        await asyncio.sleep(0.1)
        prepared = await client.prepare_live_tail(ACCOUNT_ID, SCRIPT, deadline=3.0)
        first = await slow
        after = await client.heartbeat(ACCOUNT_ID, SCRIPT, deadline=3.0)

    assert first.ok
    assert prepared.ok
    assert after.ok
    slow_id, prepare_id, after_id = (r.connection_id for r in server.requests)
    assert prepare_id != slow_id
    # The kept-alive connection is the heartbeat's, and it is still used.
    assert after_id == slow_id
