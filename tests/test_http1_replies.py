"""Adversarial replies and requests for the POST connection (tui/http1.py).

Each test sends heartbeats through CloudflareClient to ScriptedServer, a
loopback server that replies to each request with scripted bytes and records
every byte it receives. The tests check the outcome and message of each
call, how many connections the client opened, and what reached the server.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from tui import credentials, http1
from tui import envelope as env
from tui.api import MAX_BODY, CloudflareClient
from tui.credentials import Credential
from tui.envelope import CallResult
from tui.errors import UserError

ACCOUNT_ID = "0123456789abcdef0123456789abcdef"
SCRIPT = "my-worker"
# OK_BODY is 56 bytes (0x38), and the reply literals below write that length out.
OK_BODY = b'{"success":true,"errors":[],"messages":[],"result":null}'
# OK_BODY split in two chunks: 10 bytes (0xA) and 46 bytes (0x2E).
HEAD_PART, TAIL_PART = OK_BODY[:10], OK_BODY[10:]
# Step timeout of every client. It is long enough for loopback, and short
# enough that a client waiting for bytes that never come fails fast.
STEP_TIMEOUT = 1.0
# A whole call's deadline when the server sends one byte at a time.
SLOW_DEADLINE = 5.0
# Pause between the single bytes of a reply sent byte by byte.
BYTE_PAUSE = 0.0005
# Seconds between a reply and the bytes the server sends after it.
LATER_PAUSE = 0.05
DROPPED_MESSAGE = f"connection dropped: {http1.DROPPED}"
NOT_HTTP = "not an HTTP/1.1 reply: "
TOO_LARGE_MESSAGE = f"reply larger than {MAX_BODY} bytes"


@dataclass
class Reply:
    """One scripted reply and how the server sends it."""

    data: bytes
    # Close the connection after the reply, which ends a body without a length.
    close: bool = False
    # Send one byte at a time, with BYTE_PAUSE between bytes.
    byte_by_byte: bool = False
    # Bytes sent LATER_PAUSE seconds after the reply, on the idle connection.
    later: bytes = b""


def request_length(head: bytes) -> int:
    """Return the Content-Length of a request head, 0 when it has none."""
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


class ScriptedServer:
    """Loopback server that sends the next scripted reply to each request.

    ``received`` stores every byte read from each connection, one bytearray
    per connection in the order they were accepted. A connection closes after
    a reply with ``close`` set, and when no scripted reply is left.
    """

    def __init__(self, *replies: Reply | bytes):
        self._replies = [
            reply if isinstance(reply, Reply) else Reply(reply) for reply in replies
        ]
        self.received: list[bytearray] = []
        self.closed = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def connections(self) -> int:
        return len(self.received)

    @property
    def base_url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/client/v4"

    async def __aenter__(self) -> ScriptedServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        # Python 3.11's wait_closed does not wait for open connections.
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def wait_for_closed(self, count: int) -> None:
        """Wait until ``count`` connections have closed, so ``received`` is final."""
        async with asyncio.timeout(2.0):
            while self.closed < count:
                await asyncio.sleep(0.01)

    async def settle(self) -> None:
        """Wait until every connection the client opened is accepted and closed.

        Call it after the client has closed. A loopback accept takes far less
        than the pause here, so a connection still unaccepted after it is
        not expected.
        """
        await asyncio.sleep(0.05)
        await self.wait_for_closed(self.connections)

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        received = bytearray()
        self.received.append(received)
        try:
            while self._replies:
                head = await reader.readuntil(b"\r\n\r\n")
                received += head
                received += await reader.readexactly(request_length(head))
                reply = self._replies.pop(0)
                await self._send(writer, reply)
                if reply.close:
                    break
        except asyncio.IncompleteReadError as exc:
            received += exc.partial
        except (ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
            self.closed += 1

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, reply: Reply) -> None:
        if reply.byte_by_byte:
            for index in range(len(reply.data)):
                writer.write(reply.data[index : index + 1])
                await writer.drain()
                await asyncio.sleep(BYTE_PAUSE)
        else:
            writer.write(reply.data)
            await writer.drain()
        if reply.later:
            await asyncio.sleep(LATER_PAUSE)
            writer.write(reply.later)
            await writer.drain()


def make_client(
    base_url: str, credential: Credential | None = None
) -> CloudflareClient:
    if credential is None:
        credential = Credential.api_token("test-token", source="test")
    return CloudflareClient(base_url, credential, timeout=STEP_TIMEOUT)


async def heartbeats(
    server: ScriptedServer,
    count: int = 2,
    *,
    pause: float = 0.0,
    deadline: float | None = None,
) -> list[CallResult]:
    """Send ``count`` heartbeats through one client, ``pause`` seconds apart."""
    results = []
    async with make_client(server.base_url) as client:
        for index in range(count):
            if index and pause:
                await asyncio.sleep(pause)
            results.append(
                await client.heartbeat(ACCOUNT_ID, SCRIPT, deadline=deadline)
            )
    return results


def length_reply(
    ray: str = "first",
    *,
    fields: bytes = b"",
    body: bytes = OK_BODY,
    status_line: bytes = b"HTTP/1.1 200 OK",
) -> bytes:
    """Return a reply whose body length is given by Content-Length."""
    return (
        status_line
        + b"\r\ncf-ray: "
        + ray.encode()
        + b"\r\n"
        + fields
        + b"Content-Length: %d\r\n\r\n" % len(body)
        + body
    )


def chunked_reply(chunks: bytes, ray: str = "first", fields: bytes = b"") -> bytes:
    """Return a chunked reply head followed by ``chunks`` as they are."""
    return (
        b"HTTP/1.1 200 OK\r\ncf-ray: "
        + ray.encode()
        + b"\r\nTransfer-Encoding: chunked\r\n"
        + fields
        + b"\r\n"
        + chunks
    )


def two_chunks(size_head: bytes = b"a", size_tail: bytes = b"2e") -> bytes:
    return (
        size_head
        + b"\r\n"
        + HEAD_PART
        + b"\r\n"
        + size_tail
        + b"\r\n"
        + TAIL_PART
        + b"\r\n0\r\n\r\n"
    )


# Request writer


async def test_request_bytes_are_exact() -> None:
    async with ScriptedServer(length_reply()) as server:
        port = server.base_url.split(":")[2].split("/")[0]
        (result,) = await heartbeats(server, 1)
        await server.wait_for_closed(1)

    body = b'{"scriptId":"my-worker"}'
    expected = (
        b"POST /client/v4/accounts/"
        + ACCOUNT_ID.encode()
        + b"/workers/observability/telemetry/live-tail/heartbeat HTTP/1.1\r\n"
        + b"Host: 127.0.0.1:"
        + port.encode()
        + b"\r\n"
        + b"User-Agent: cf-livetail\r\n"
        + b"Accept: application/json\r\n"
        + b"Content-Type: application/json\r\n"
        + b"Content-Length: %d\r\n" % len(body)
        + b"Authorization: Bearer test-token\r\n\r\n"
        + body
    )
    assert result.ok
    assert server.received == [bytearray(expected)]


# Characters that could end the Authorization header and start another one,
# or that no header value may contain.
UNSAFE_TOKENS = [
    "tok\r\nX-Injected: yes",
    "tok\nX-Injected: yes",
    "tok\rX-Injected: yes",
    "tok\x00X-Injected: yes",
    "tok\x1b[2J",
    "tok\x7f",
    "tok\x85X-Injected: yes",
    "tok\u2028X-Injected: yes",
]


@pytest.mark.parametrize("token", UNSAFE_TOKENS)
async def test_unsafe_token_sends_nothing(
    token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Credential rejects such a secret itself (see the next test). With that
    # check off, only the request writer keeps the secret off the wire.
    monkeypatch.setattr(credentials, "is_header_safe", lambda value: True)
    credential = Credential.api_token(token, source="test")

    async with ScriptedServer(length_reply()) as server:
        async with make_client(server.base_url, credential) as client:
            result = await client.heartbeat(ACCOUNT_ID, SCRIPT)
        await server.settle()

    assert b"".join(server.received) == b""
    assert result.outcome == env.REJECTED
    assert result.message == (
        "request not sent: the Authorization header contains a character HTTP "
        "does not allow; check the credential"
    )


GLOBAL_KEYS = {
    "email": ("me@example.com\r\nX-Injected: yes", "key", "X-Auth-Email"),
    "key": ("me@example.com", "key\r\nX-Injected: yes", "X-Auth-Key"),
}


@pytest.mark.parametrize(
    ("email", "key", "header"), GLOBAL_KEYS.values(), ids=GLOBAL_KEYS.keys()
)
async def test_unsafe_global_key_sends_nothing(
    email: str, key: str, header: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(credentials, "is_header_safe", lambda value: True)
    credential = Credential.global_key(email, key, source="test")

    async with ScriptedServer(length_reply()) as server:
        async with make_client(server.base_url, credential) as client:
            result = await client.heartbeat(ACCOUNT_ID, SCRIPT)
        await server.settle()

    assert b"".join(server.received) == b""
    assert result.outcome == env.REJECTED
    assert result.message == (
        f"request not sent: the {header} header contains a character HTTP "
        "does not allow; check the credential"
    )


@pytest.mark.parametrize("token", UNSAFE_TOKENS)
def test_credential_rejects_unsafe_token(token: str) -> None:
    with pytest.raises(UserError) as caught:
        Credential.api_token(token, source="CLOUDFLARE_API_TOKEN")

    assert "X-Injected" not in str(caught.value)
    assert "CLOUDFLARE_API_TOKEN" in str(caught.value)


# Chunked bodies


CHUNKED_BODIES = {
    "lowercase hex": two_chunks(),
    "uppercase hex": two_chunks(b"A", b"2E"),
    "leading zeros": two_chunks(b"000a", b"002E"),
    "extensions": (
        b"A;name=value\r\n"
        + HEAD_PART
        + b'\r\n2e ; q="a b";x\r\n'
        + TAIL_PART
        + b"\r\n0;last\r\n\r\n"
    ),
    "trailers": (
        b"A\r\n"
        + HEAD_PART
        + b"\r\n2E\r\n"
        + TAIL_PART
        + b"\r\n0\r\nX-Trailer: one\r\nServer-Timing: total;dur=1\r\n\r\n"
    ),
}


@pytest.mark.parametrize("chunks", CHUNKED_BODIES.values(), ids=CHUNKED_BODIES.keys())
async def test_chunked_body_variants(chunks: bytes) -> None:
    async with ScriptedServer(chunked_reply(chunks), length_reply("second")) as server:
        first, second = await heartbeats(server)

    assert first.ok
    assert first.ray == "first"
    # A body or trailer read short or long would break the second reply.
    assert second.ok
    assert second.ray == "second"
    assert server.connections == 1


BAD_CHUNKS = {
    "not hex": (b"zz\r\n", 'invalid chunk header "zz"'),
    "0x prefix": (b"0x38\r\n", 'invalid chunk header "0x38"'),
    "negative": (b"-38\r\n", 'invalid chunk header "-38"'),
    "empty line": (b"\r\n", 'invalid chunk header ""'),
    # The quote drops the leading space, as every excerpt is stripped.
    "leading space": (b" 38\r\n", 'invalid chunk header "38"'),
    "17 digits": (b"00000000000000038\r\n", 'invalid chunk header "00000000000000038"'),
    "control character": (b"38;a\x01b\r\n", 'invalid chunk header "38;a?b"'),
    "longer than its size": (
        b"5\r\n" + OK_BODY + b"\r\n0\r\n\r\n",
        "invalid chunk: longer than the size in its header",
    ),
}


@pytest.mark.parametrize(
    ("chunks", "problem"), BAD_CHUNKS.values(), ids=BAD_CHUNKS.keys()
)
async def test_bad_chunk_is_rejected(chunks: bytes, problem: str) -> None:
    async with ScriptedServer(chunked_reply(chunks), length_reply("second")) as server:
        bad, good = await heartbeats(server)

    assert bad.outcome == env.NETWORK_ERROR
    assert bad.message == NOT_HTTP + problem
    assert good.ok
    assert server.connections == 2


CUT_CHUNKS = {
    "inside chunk data": b"38\r\n" + OK_BODY[:20],
    "inside chunk header": b"3",
    "before chunk end": b"38\r\n" + OK_BODY,
    "before last chunk": b"38\r\n" + OK_BODY + b"\r\n",
    "inside trailers": b"38\r\n" + OK_BODY + b"\r\n0\r\nX-Trailer: one\r\n",
}


@pytest.mark.parametrize("chunks", CUT_CHUNKS.values(), ids=CUT_CHUNKS.keys())
async def test_chunked_body_cut_by_close(chunks: bytes) -> None:
    async with ScriptedServer(
        Reply(chunked_reply(chunks), close=True), length_reply("second")
    ) as server:
        cut, good = await heartbeats(server)

    assert cut.outcome == env.NETWORK_ERROR
    assert cut.message == DROPPED_MESSAGE
    assert good.ok
    assert server.connections == 2


TRANSFER_ENCODINGS = {
    "gzip": (b"Transfer-Encoding: gzip\r\n", "gzip"),
    "gzip, chunked": (b"Transfer-Encoding: gzip, chunked\r\n", "gzip, chunked"),
    "chunked twice": (
        b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        "chunked, chunked",
    ),
    # The quote decodes each byte as latin-1, as every excerpt does.
    "obs-text": (b"Transfer-Encoding: caf\xe9\r\n", "caf\xe9"),
}


@pytest.mark.parametrize(
    ("fields", "quoted"), TRANSFER_ENCODINGS.values(), ids=TRANSFER_ENCODINGS.keys()
)
async def test_unsupported_transfer_encoding(fields: bytes, quoted: str) -> None:
    bad_reply = b"HTTP/1.1 200 OK\r\n" + fields + b"\r\n" + two_chunks()
    async with ScriptedServer(bad_reply, length_reply("second")) as server:
        bad, good = await heartbeats(server)

    assert bad.outcome == env.NETWORK_ERROR
    assert bad.message == f'{NOT_HTTP}unsupported Transfer-Encoding "{quoted}"'
    assert good.ok
    assert server.connections == 2


async def test_chunked_overrides_content_length() -> None:
    # RFC 9112 section 6.3: Transfer-Encoding overrides Content-Length, and
    # a reply with both is a reason to close the connection.
    both = chunked_reply(two_chunks(), fields=b"Content-Length: 3\r\n")
    async with ScriptedServer(both, length_reply("second")) as server:
        first, second = await heartbeats(server)

    assert first.ok
    assert first.ray == "first"
    assert second.ok
    assert server.connections == 2


# Content-Length


REPEATED_LENGTHS = {
    "two headers": b"Content-Length: 56\r\n",
    "one list": b"Content-Length: 56, 56\r\n",
    "list without space": b"content-length: 56,56\r\n",
}


@pytest.mark.parametrize(
    "extra", REPEATED_LENGTHS.values(), ids=REPEATED_LENGTHS.keys()
)
async def test_repeated_equal_content_length(extra: bytes) -> None:
    # length_reply adds "Content-Length: 56" after the extra field.
    async with ScriptedServer(
        length_reply(fields=extra), length_reply("second")
    ) as server:
        first, second = await heartbeats(server)

    assert len(OK_BODY) == 56
    assert first.ok
    assert second.ok
    assert second.ray == "second"
    assert server.connections == 1


BAD_LENGTHS = {
    "conflicting list": b"56, 57",
    "conflicting headers": b"56\r\nContent-Length: 57",
    "letters": b"abc",
    "hex": b"0x38",
    "negative": b"-56",
    "plus sign": b"+56",
    "inner space": b"5 6",
    "empty": b"",
    "superscript digit": b"5\xb9",
    "twenty digits": b"99999999999999999999",
    "trailing comma": b"56,",
}


@pytest.mark.parametrize("value", BAD_LENGTHS.values(), ids=BAD_LENGTHS.keys())
async def test_bad_content_length_is_rejected(value: bytes) -> None:
    bad_reply = b"HTTP/1.1 200 OK\r\nContent-Length: " + value + b"\r\n\r\n" + OK_BODY
    async with ScriptedServer(bad_reply, length_reply("second")) as server:
        bad, good = await heartbeats(server)

    assert bad.outcome == env.NETWORK_ERROR
    assert bad.message.startswith(NOT_HTTP + 'bad Content-Length "')
    assert good.ok
    assert server.connections == 2


async def test_body_shorter_than_content_length() -> None:
    short = b"HTTP/1.1 200 OK\r\nContent-Length: 56\r\n\r\n" + OK_BODY[:20]
    async with ScriptedServer(
        Reply(short, close=True), length_reply("second")
    ) as server:
        cut, good = await heartbeats(server)

    assert cut.outcome == env.NETWORK_ERROR
    assert cut.message == DROPPED_MESSAGE
    assert good.ok
    assert server.connections == 2


@pytest.mark.parametrize("byte_by_byte", [False, True], ids=["one write", "bytewise"])
async def test_body_ended_by_close(byte_by_byte: bool) -> None:
    unframed = b"HTTP/1.1 200 OK\r\ncf-ray: first\r\n\r\n" + OK_BODY
    async with ScriptedServer(
        Reply(unframed, close=True, byte_by_byte=byte_by_byte),
        length_reply("second"),
    ) as server:
        first, second = await heartbeats(server, deadline=SLOW_DEADLINE)

    assert first.ok
    assert first.ray == "first"
    assert second.ok
    assert second.ray == "second"
    assert server.connections == 2


# Connection reuse


CONNECTION_CASES = {
    "HTTP/1.0": (b"HTTP/1.0 200 OK", b"", 2),
    "close": (b"HTTP/1.1 200 OK", b"Connection: close\r\n", 2),
    "mixed case close": (b"HTTP/1.1 200 OK", b"connection: CLOSE\r\n", 2),
    "keep-alive, close": (b"HTTP/1.1 200 OK", b"Connection: keep-alive, close\r\n", 2),
    "close in a list": (b"HTTP/1.1 200 OK", b"Connection: upgrade,close,te\r\n", 2),
    "two headers": (
        b"HTTP/1.1 200 OK",
        b"Connection: keep-alive\r\nConnection: close\r\n",
        2,
    ),
    "keep-alive": (b"HTTP/1.1 200 OK", b"Connection: keep-alive\r\n", 1),
    "closed-looking token": (b"HTTP/1.1 200 OK", b"Connection: closed\r\n", 1),
}


@pytest.mark.parametrize(
    ("status_line", "fields", "connections"),
    CONNECTION_CASES.values(),
    ids=CONNECTION_CASES.keys(),
)
async def test_connection_reuse_follows_reply(
    status_line: bytes, fields: bytes, connections: int
) -> None:
    # The server keeps every connection open, so only the client decides.
    first_reply = length_reply(status_line=status_line, fields=fields)
    async with ScriptedServer(first_reply, length_reply("second")) as server:
        first, second = await heartbeats(server)

    assert first.ok
    assert second.ok
    assert second.ray == "second"
    assert server.connections == connections


NO_CONTENT_REPLIES = {
    "plain": b"HTTP/1.1 204 No Content\r\ncf-ray: first\r\n\r\n",
    "with Content-Length": (
        b"HTTP/1.1 204 No Content\r\ncf-ray: first\r\nContent-Length: 56\r\n\r\n"
    ),
    "with chunked": (
        b"HTTP/1.1 204 No Content\r\ncf-ray: first\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    ),
}


@pytest.mark.parametrize(
    "no_content", NO_CONTENT_REPLIES.values(), ids=NO_CONTENT_REPLIES.keys()
)
async def test_no_content_reply_has_no_body(no_content: bytes) -> None:
    async with ScriptedServer(no_content, length_reply("second")) as server:
        first, second = await heartbeats(server)

    assert first.http_status == 204
    assert first.ray == "first"
    assert second.ok
    assert second.ray == "second"
    assert server.connections == 1


# Status lines and headers


GOOD_HEADS = {
    "no reason phrase": b"HTTP/1.1 200\r\ncf-ray: first\r\nContent-Length: 56\r\n\r\n",
    "empty reason phrase": (
        b"HTTP/1.1 200 \r\ncf-ray: first\r\nContent-Length: 56\r\n\r\n"
    ),
    "lowercase names": (
        b"HTTP/1.1 200 OK\r\ncf-ray: first\r\ncontent-length: 56\r\n\r\n"
    ),
    "uppercase names": (
        b"HTTP/1.1 200 OK\r\nCF-RAY: first\r\nCONTENT-LENGTH: 56\r\n\r\n"
    ),
    "mixed case chunked": (
        b"HTTP/1.1 200 OK\r\nCf-Ray: first\r\ntRaNsFeR-eNcOdInG: ChUnKeD\r\n\r\n"
        + two_chunks()
    ),
    "no space after colon": (
        b"HTTP/1.1 200 OK\r\ncf-ray:first\r\nContent-Length:56\r\n\r\n"
    ),
    "spaces around value": (
        b"HTTP/1.1 200 OK\r\ncf-ray: \t first \t\r\nContent-Length: 56 \r\n\r\n"
    ),
    "obs-text in value": (
        b"HTTP/1.1 200 OK\r\ncf-ray: first\r\nX-Note: caf\xe9\r\n"
        b"Content-Length: 56\r\n\r\n"
    ),
    "LF only": b"HTTP/1.1 200 OK\ncf-ray: first\nContent-Length: 56\n\n",
    "LF only chunked": (
        b"HTTP/1.1 200 OK\ncf-ray: first\nTransfer-Encoding: chunked\n\n"
        b"a\n" + HEAD_PART + b"\n2e\n" + TAIL_PART + b"\n0\n\n"
    ),
    "CRLF and LF mixed": b"HTTP/1.1 200 OK\r\ncf-ray: first\nContent-Length: 56\r\n\n",
}


def with_body(head: bytes) -> bytes:
    """Return ``head`` with OK_BODY after it, unless its chunks are already there."""
    return head if b"CHUNKED" in head.upper() else head + OK_BODY


@pytest.mark.parametrize("head", GOOD_HEADS.values(), ids=GOOD_HEADS.keys())
async def test_unusual_heads_are_read(head: bytes) -> None:
    async with ScriptedServer(with_body(head), length_reply("second")) as server:
        first, second = await heartbeats(server)

    assert first.ok
    assert first.ray == "first"
    assert second.ok
    assert second.ray == "second"
    assert server.connections == 1


@pytest.mark.parametrize("fold", [b" ", b"\t", b" \t "], ids=["space", "tab", "mixed"])
async def test_folded_header_is_joined(fold: bytes) -> None:
    folded = (
        b"HTTP/1.1 200 OK\r\ncf-ray: first\r\n" + fold + b"part\r\n"
        b"Content-Length: 56\r\n\r\n" + OK_BODY
    )
    async with ScriptedServer(folded, length_reply("second")) as server:
        first, second = await heartbeats(server)

    assert first.ok
    assert first.ray == "first part"
    assert second.ok
    assert server.connections == 1


BAD_HEADER_LINES = {
    "control character": b"X-Bad: a\x01b",
    "escape sequence": b"X-Bad: a\x1b[2Jb",
    "NUL": b"X-Bad: a\x00b",
    "DEL": b"X-Bad: a\x7fb",
    "bare CR": b"X-A: 1\rX-B: 2",
    "space before colon": b"Content-Length : 56",
    "no colon": b"NoColon",
    "empty name": b": value",
    "space in name": b"Bad Name: value",
    "fold before first header": b" cf-ray: folded",
    "control character in fold": b"cf-ray: first\r\n \x1b[2Jpart",
    "NUL in fold": b"cf-ray: first\r\n a\x00b",
}


@pytest.mark.parametrize("line", BAD_HEADER_LINES.values(), ids=BAD_HEADER_LINES.keys())
async def test_bad_header_line_is_rejected(line: bytes) -> None:
    bad_reply = (
        b"HTTP/1.1 200 OK\r\n" + line + b"\r\nContent-Length: 56\r\n\r\n" + OK_BODY
    )
    async with ScriptedServer(bad_reply, length_reply("second")) as server:
        bad, good = await heartbeats(server)

    assert bad.outcome == env.NETWORK_ERROR
    assert bad.message.startswith(NOT_HTTP + 'invalid header line "')
    # The message quotes a control character as "?".
    assert bad.message.isprintable()
    assert good.ok
    assert server.connections == 2


BAD_STATUS_LINES = {
    "SSH banner": (b"SSH-2.0-OpenSSH_9.2", "SSH-2.0-OpenSSH_9.2"),
    "HTTP/2.0": (b"HTTP/2.0 200 OK", "HTTP/2.0 200 OK"),
    "HTTP/2": (b"HTTP/2 200", "HTTP/2 200"),
    "no minor version": (b"HTTP/1 200 OK", "HTTP/1 200 OK"),
    "lowercase name": (b"http/1.1 200 OK", "http/1.1 200 OK"),
    "leading space": (b" HTTP/1.1 200 OK", "HTTP/1.1 200 OK"),
    "two-digit status": (b"HTTP/1.1 20 OK", "HTTP/1.1 20 OK"),
    "four-digit status": (b"HTTP/1.1 2000 OK", "HTTP/1.1 2000 OK"),
    "no space": (b"HTTP/1.1200 OK", "HTTP/1.1200 OK"),
    "control character": (b"HTTP/1.1 200 O\x01K", "HTTP/1.1 200 O?K"),
    "ICY": (b"ICY 200 OK", "ICY 200 OK"),
}


@pytest.mark.parametrize(
    ("status_line", "quoted"), BAD_STATUS_LINES.values(), ids=BAD_STATUS_LINES.keys()
)
async def test_bad_status_line_is_rejected(status_line: bytes, quoted: str) -> None:
    bad_reply = status_line + b"\r\nContent-Length: 56\r\n\r\n" + OK_BODY
    async with ScriptedServer(bad_reply, length_reply("second")) as server:
        bad, good = await heartbeats(server)

    assert bad.outcome == env.NETWORK_ERROR
    assert bad.message == f'{NOT_HTTP}invalid status line "{quoted}"'
    assert good.ok
    assert server.connections == 2


async def test_status_below_100_is_not_informational() -> None:
    # RFC 9110 section 15: "Values outside the range 100..599 are invalid",
    # and a client should treat them as a 5xx. Skipping this head like a 1xx
    # reply makes the client read the reply after it as this request's reply.
    invalid = b"HTTP/1.1 099 Early\r\n\r\n" + length_reply()
    async with ScriptedServer(invalid, length_reply("second")) as server:
        bad, good = await heartbeats(server)

    assert not bad.ok
    assert bad.outcome in (env.NETWORK_ERROR, env.SERVER_ERROR)
    assert good.ok
    assert server.connections == 2


async def test_switching_protocols_is_rejected() -> None:
    upgrade = (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\n\r\n"
    )
    async with ScriptedServer(upgrade, length_reply("second")) as server:
        bad, good = await heartbeats(server)

    assert bad.outcome == env.NETWORK_ERROR
    assert bad.message == (NOT_HTTP + "unexpected 101 Switching Protocols reply")
    assert good.ok
    assert server.connections == 2


async def test_informational_replies_are_skipped() -> None:
    informational = (
        b"HTTP/1.1 100 Continue\r\n\r\n" * 3
        + b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
        + b"HTTP/1.1 100 Continue\r\nX-Note: late\r\n\r\n"
    )
    async with ScriptedServer(
        informational + length_reply(), length_reply("second")
    ) as server:
        first, second = await heartbeats(server)

    assert first.ok
    assert first.ray == "first"
    assert second.ok
    assert second.ray == "second"
    assert server.connections == 1


@pytest.mark.parametrize(
    "size",
    [http1.MAX_HEAD + 1024, 70 * 1024, 100 * 1024, 1024 * 1024],
    ids=["64 KiB + 1 KiB", "70 KiB", "100 KiB", "1 MiB"],
)
async def test_head_over_limit_is_rejected(size: int) -> None:
    padding = b"X-Padding: " + b"a" * size + b"\r\n"
    async with ScriptedServer(
        length_reply(fields=padding), length_reply("second")
    ) as server:
        bad, good = await heartbeats(server)

    assert bad.outcome == env.NETWORK_ERROR
    assert bad.message == NOT_HTTP + "the reply head is longer than 64 KiB"
    assert good.ok
    assert server.connections == 2


async def test_head_under_limit_is_read() -> None:
    padding = b"X-Padding: " + b"a" * (60 * 1024) + b"\r\n"
    async with ScriptedServer(length_reply(fields=padding)) as server:
        (result,) = await heartbeats(server, 1)

    assert result.ok
    assert result.ray == "first"


# Body size limit


LIMIT_BODY = OK_BODY + b" " * (MAX_BODY - len(OK_BODY))
HALF = MAX_BODY // 2


def chunked_body(*sizes: int) -> bytes:
    """Return chunks of the given sizes, with the last chunk and no trailers."""
    parts = [b"%x\r\n" % size + b" " * size + b"\r\n" for size in sizes]
    return b"".join(parts) + b"0\r\n\r\n"


LIMIT_REPLIES = {
    "Content-Length": Reply(length_reply(body=LIMIT_BODY)),
    "chunked": Reply(
        chunked_reply(b"%x\r\n" % MAX_BODY + LIMIT_BODY + b"\r\n0\r\n\r\n")
    ),
    "ended by close": Reply(
        b"HTTP/1.1 200 OK\r\ncf-ray: first\r\n\r\n" + LIMIT_BODY, close=True
    ),
}


@pytest.mark.parametrize("reply", LIMIT_REPLIES.values(), ids=LIMIT_REPLIES.keys())
async def test_body_at_limit_is_read(reply: Reply) -> None:
    async with ScriptedServer(reply) as server:
        (result,) = await heartbeats(server, 1)

    assert result.ok
    assert result.ray == "first"


OVER_LIMIT_REPLIES = {
    "Content-Length": Reply(length_reply(body=LIMIT_BODY + b" ")),
    "one chunk": Reply(chunked_reply(chunked_body(MAX_BODY + 1))),
    "many chunks": Reply(chunked_reply(chunked_body(HALF, HALF, 1))),
    "huge chunk size": Reply(chunked_reply(b"FFFFFFFFFFFFFFFF\r\n")),
    "ended by close": Reply(b"HTTP/1.1 200 OK\r\n\r\n" + LIMIT_BODY + b" ", close=True),
}


@pytest.mark.parametrize(
    "reply", OVER_LIMIT_REPLIES.values(), ids=OVER_LIMIT_REPLIES.keys()
)
async def test_body_over_limit_is_rejected(reply: Reply) -> None:
    async with ScriptedServer(reply, length_reply("second")) as server:
        bad, good = await heartbeats(server)

    assert bad.outcome == env.BAD_RESPONSE
    assert bad.message == TOO_LARGE_MESSAGE
    assert good.ok
    assert server.connections == 2


# Bytes after the reply


SMUGGLED = length_reply("smuggled")


async def test_extra_bytes_close_connection() -> None:
    async with ScriptedServer(
        length_reply() + SMUGGLED, length_reply("second")
    ) as server:
        first, second = await heartbeats(server)

    assert first.ray == "first"
    assert second.ray == "second"
    assert server.connections == 2


async def test_bytes_on_idle_connection() -> None:
    # The extra reply arrives LATER_PAUSE after the first one, while the
    # connection is idle. The event loop reads it before the next call starts.
    async with ScriptedServer(
        Reply(length_reply(), later=SMUGGLED), length_reply("second")
    ) as server:
        first, second = await heartbeats(server, pause=LATER_PAUSE * 6)

    assert first.ray == "first"
    assert second.ray == "second"
    assert server.connections == 2


async def test_close_on_idle_connection() -> None:
    async with ScriptedServer(
        Reply(length_reply(), close=True), length_reply("second")
    ) as server:
        first, second = await heartbeats(server, pause=0.1)

    assert first.ok
    assert second.ok
    assert server.connections == 2


# Replies sent one byte at a time


TRICKLED_REPLIES = {
    "Content-Length": length_reply(),
    "chunked with trailers": chunked_reply(
        b"A;name=value\r\n"
        + HEAD_PART
        + b"\r\n2E\r\n"
        + TAIL_PART
        + b"\r\n0\r\nX-Trailer: one\r\n\r\n"
    ),
    "after 100 Continue": b"HTTP/1.1 100 Continue\r\n\r\n" + length_reply(),
    "LF only": b"HTTP/1.1 200 OK\ncf-ray: first\nContent-Length: 56\n\n" + OK_BODY,
    "LF only chunked": with_body(GOOD_HEADS["LF only chunked"]),
}


@pytest.mark.parametrize("data", TRICKLED_REPLIES.values(), ids=TRICKLED_REPLIES.keys())
async def test_reply_sent_byte_by_byte(data: bytes) -> None:
    async with ScriptedServer(
        Reply(data, byte_by_byte=True), length_reply("second")
    ) as server:
        first, second = await heartbeats(server, deadline=SLOW_DEADLINE)

    assert first.ok
    assert first.ray == "first"
    assert second.ok
    assert second.ray == "second"
    assert server.connections == 1


# Replies that would keep the client busy or waiting


async def test_banner_then_silence_fails_at_once() -> None:
    # A server that is not HTTP sends one line and waits for more input.
    async with ScriptedServer(b"SSH-2.0-OpenSSH_9.2p1\r\n") as server:
        started = asyncio.get_running_loop().time()
        (result,) = await heartbeats(server, count=1, deadline=SLOW_DEADLINE)
        took = asyncio.get_running_loop().time() - started

    assert result.outcome == env.NETWORK_ERROR
    assert result.message == f'{NOT_HTTP}invalid status line "SSH-2.0-OpenSSH_9.2p1"'
    assert took < STEP_TIMEOUT / 2


async def test_endless_trailer_is_rejected() -> None:
    # The trailer lines go on past the limit, and no blank line ends them.
    trailer = b"X-T: v\r\n" * (2 * http1.MAX_HEAD // 8)
    reply = chunked_reply(two_chunks()[: -len(b"\r\n")] + trailer)
    async with ScriptedServer(reply) as server:
        (result,) = await heartbeats(server, count=1, deadline=SLOW_DEADLINE)

    assert result.outcome == env.NETWORK_ERROR
    assert result.message == f"{NOT_HTTP}the trailer is longer than 64 KiB"


async def test_too_many_chunks_are_rejected() -> None:
    chunks = b"1\r\n \r\n" * (http1.MAX_CHUNKS + 1) + b"0\r\n\r\n"
    async with ScriptedServer(chunked_reply(chunks)) as server:
        (result,) = await heartbeats(server, count=1, deadline=SLOW_DEADLINE)

    assert result.outcome == env.NETWORK_ERROR
    assert result.message == (
        f"{NOT_HTTP}the reply has more than {http1.MAX_CHUNKS} chunks"
    )
