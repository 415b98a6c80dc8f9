"""One kept-alive HTTP/1.1 connection for a session's POST calls.

A session sends one heartbeat every few seconds, always to the same host.
On the benchmark machine, httpx's asynchronous client spends about 2 ms of
CPU on each of those requests, most of it in its connection pool. One
asyncio connection whose bytes h11 parses does the same work for about a
fifth of that. ``CloudflareClient`` sends its POST calls here and keeps
httpx for everything else (see ``tui/api.py``).

The connection is opened on first use and again after anything goes wrong:
any exception, a timeout or a cancellation in the middle of a request
leaves it in an unknown state, so it is closed. A connection idle for
longer than KEEPALIVE_EXPIRY is not reused, as httpx would not either.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import re
import select
import ssl
import time
from urllib.parse import urlsplit

import h11

from tui.envelope import one_line

KEEPALIVE_EXPIRY = 20.0
READ_SIZE = 64 * 1024
# Characters of a malformed reply line that an error message quotes.
EXCERPT_CHARS = 40

# h11 (checked in 0.16) quotes the offending bytes as a Python repr, for
# example "illegal status line: bytearray(b'SSH-2.0-OpenSSH_9.2')".
_BYTES_LITERAL = r"""b(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
_BYTES_REPR = re.compile(
    rf"bytearray\((?P<wrapped>{_BYTES_LITERAL})\)|(?<!\w)(?P<bare>{_BYTES_LITERAL})"
)
_ILLEGAL = re.compile(r"^illegal (?P<what>[^:\"]+?):? (?=\")", re.IGNORECASE)


class BodyTooLarge(Exception):
    """The reply's body is longer than the caller allows."""


class ConnectionDropped(Exception):
    """The server closed the connection before the reply was complete."""


class BadReply(Exception):
    """The bytes from the server are not an HTTP/1.1 reply."""


def excerpt(data: bytes, limit: int = EXCERPT_CHARS) -> str:
    """Return bytes from the network as one printable line, at most ``limit`` long.

    The bytes are decoded as latin-1, so every byte shows as one character.
    Control characters become "?", and a longer line is cut and ends in "…".
    """
    return one_line(data.decode("latin-1"), limit)


def describe_protocol_error(message: str) -> str:
    """Rewrite an h11 error message so that it quotes bytes as text, not as a repr.

    "illegal status line: bytearray(b'SSH-2.0')" becomes
    'invalid status line "SSH-2.0"'. Text without a bytes repr is kept.
    """

    def quote(match: re.Match[str]) -> str:
        literal = match.group("wrapped") or match.group("bare")
        try:
            data = ast.literal_eval(literal)
        except (ValueError, SyntaxError):
            return match.group(0)
        return f'"{excerpt(data)}"'

    text = _BYTES_REPR.sub(quote, message)
    return _ILLEGAL.sub(lambda found: f"invalid {found.group('what')} ", text)


class StepTimeout(Exception):
    """Connecting, sending or one read took longer than the step timeout.

    Its text names the step as httpx does: ConnectTimeout, WriteTimeout or
    ReadTimeout.
    """


class ConnectFailed(Exception):
    """The connection could not be opened. ``cause`` is the OSError."""

    def __init__(self, cause: OSError):
        super().__init__(str(cause) or type(cause).__name__)
        self.cause = cause


class PostConnection:
    """POST requests to one origin over one connection, one at a time."""

    def __init__(
        self,
        base_url: str,
        ssl_context: ssl.SSLContext | None,
        *,
        user_agent: str,
        max_body: int,
        timeout: float,
    ):
        parts = urlsplit(base_url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if self.https else 80)
        self._ssl = ssl_context if self.https else None
        self._prefix = parts.path.rstrip("/")
        host_text = f"[{self.host}]" if ":" in self.host else self.host
        default_port = 443 if self.https else 80
        self._host_header = (
            host_text if self.port == default_port else f"{host_text}:{self.port}"
        )
        self._user_agent = user_agent
        self._max_body = max_body
        self.timeout = timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._h11: h11.Connection | None = None
        self._idle_since = 0.0

    async def post(
        self, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        """Send one POST with a JSON body and return status, headers and body.

        Header names in the result are lowercase. Raises ConnectFailed when
        no connection could be opened, OSError when it broke, StepTimeout
        when one step took longer than ``timeout``, and ConnectionDropped,
        BadReply or BodyTooLarge for the reply.
        """
        if not self._reusable():
            try:
                await self._open()
            except OSError as exc:
                self.close()
                raise ConnectFailed(exc) from None
        try:
            return await self._exchange(path, body, headers)
        except BaseException:
            self.close()
            raise

    def _reusable(self) -> bool:
        return (
            self._writer is not None
            and self._reader is not None
            and self._h11 is not None
            and self._h11.our_state is h11.IDLE
            and not self._writer.is_closing()
            and not self._reader.at_eof()
            and time.monotonic() - self._idle_since < KEEPALIVE_EXPIRY
            and not self._readable()
        )

    def _readable(self) -> bool:
        """Return whether the idle socket has bytes or an EOF the loop has not seen.

        An idle connection has nothing to read unless the server closed it,
        possibly so recently that the event loop has not noticed yet.
        """
        assert self._writer is not None
        sock = self._writer.get_extra_info("socket")
        if sock is None:
            return True
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    async def _open(self) -> None:
        self.close()
        try:
            async with asyncio.timeout(self.timeout):
                self._reader, self._writer = await asyncio.open_connection(
                    self.host,
                    self.port,
                    ssl=self._ssl,
                    server_hostname=self.host if self._ssl else None,
                    limit=READ_SIZE,
                )
        except TimeoutError:
            raise StepTimeout("ConnectTimeout") from None
        self._h11 = h11.Connection(h11.CLIENT)

    async def _exchange(
        self, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        assert self._reader is not None
        assert self._writer is not None
        assert self._h11 is not None
        conn = self._h11
        fields = [
            ("Host", self._host_header),
            ("User-Agent", self._user_agent),
            ("Accept", "application/json"),
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            *headers.items(),
        ]
        request = h11.Request(method="POST", target=self._prefix + path, headers=fields)
        self._writer.write(
            conn.send(request)
            + conn.send(h11.Data(data=body))
            + conn.send(h11.EndOfMessage())
        )
        try:
            async with asyncio.timeout(self.timeout):
                await self._writer.drain()
        except TimeoutError:
            raise StepTimeout("WriteTimeout") from None

        status = 0
        reply_headers: dict[str, str] = {}
        chunks: list[bytes] = []
        size = 0
        closed = False
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                if closed:
                    raise ConnectionDropped(
                        "the server closed the connection before the reply was complete"
                    ) from None
                raise BadReply(describe_protocol_error(str(exc))) from None
            if event is h11.NEED_DATA:
                try:
                    async with asyncio.timeout(self.timeout):
                        data = await self._reader.read(READ_SIZE)
                except TimeoutError:
                    raise StepTimeout("ReadTimeout") from None
                closed = not data
                conn.receive_data(data)
            elif isinstance(event, h11.Response):
                status = event.status_code
                for name, value in event.headers:
                    key = name.decode("latin-1")
                    text = value.decode("latin-1")
                    old = reply_headers.get(key)
                    reply_headers[key] = text if old is None else f"{old}, {text}"
            elif isinstance(event, h11.Data):
                size += len(event.data)
                if size > self._max_body:
                    raise BodyTooLarge
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionDropped(
                    "the server closed the connection before the reply was complete"
                )
            # An h11.InformationalResponse (100 Continue) needs nothing.

        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
            self._idle_since = time.monotonic()
        else:
            # The server asked to close, or sent the reply before reading ours.
            self.close()
        return status, reply_headers, b"".join(chunks)

    def close(self) -> None:
        """Drop the connection, so that the next request opens a new one."""
        writer, self._writer, self._reader, self._h11 = self._writer, None, None, None
        if writer is not None:
            writer.close()

    async def aclose(self) -> None:
        writer = self._writer
        self.close()
        if writer is not None:
            # A TLS peer that never completes the close must not delay quitting.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)
