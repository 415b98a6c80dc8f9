"""One kept-alive HTTP/1.1 connection for a session's POST calls.

A session sends one heartbeat every few seconds, always to the same host.
On the benchmark machine, httpx's asynchronous client spends about 2 ms of
CPU on each of those requests, most of it in its connection pool, and h11
(which httpx parses with) about 0.17 ms of the rest. So the two POST calls
go over one asyncio connection, and this module writes each request and
reads each reply itself. It reads what an HTTP/1.1 server may send back to
a POST: informational replies, a Content-Length, a chunked body or one that
ends when the connection closes, and ``Connection: close``. Anything else
raises BadReply. ``CloudflareClient`` sends its POST calls here and keeps
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
from typing import Any
from urllib.parse import urlsplit

from tui.envelope import one_line

KEEPALIVE_EXPIRY = 20.0
READ_SIZE = 64 * 1024
# The size of one recv() call: below glibc's mmap threshold (128 KiB).
RECV_SIZE = 16 * 1024
# The longest reply head (status line and headers) and chunk line accepted.
MAX_HEAD = 64 * 1024
MAX_LINE = 1024
# The maximum number of chunks in a chunked reply. A JSON reply needs a few, and
# parsing a million one-byte chunks would keep a core busy until the deadline.
MAX_CHUNKS = 4096
DROPPED = "the server closed the connection before the reply was complete"
# Characters of a malformed reply line that an error message quotes.
EXCERPT_CHARS = 40

# h11 (checked in 0.16) quotes the offending bytes as a Python repr, for
# example "illegal status line: bytearray(b'SSH-2.0-OpenSSH_9.2')".
_BYTES_LITERAL = r"""b(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
_BYTES_REPR = re.compile(
    rf"bytearray\((?P<wrapped>{_BYTES_LITERAL})\)|(?<!\w)(?P<bare>{_BYTES_LITERAL})"
)
_ILLEGAL = re.compile(r"^illegal (?P<what>[^:\"]+?):? (?=\")", re.IGNORECASE)


# RFC 9110 and 9112: a header name is a token. Values and the request
# target contain visible characters (values also spaces and tabs).
_TOKEN_CHARS = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
# Characters allowed in a received header value, reason phrase or chunk
# extension: anything but control characters other than tab.
_TEXT_CHARS = r"[^\x00-\x08\x0a-\x1f\x7f]"
_TOKEN = re.compile(_TOKEN_CHARS)
_VALUE = re.compile(r"[\t\x20-\x7e]*")
_TARGET = re.compile(r"/[\x21-\x7e]*")
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_STATUS_LINE = re.compile(f"HTTP/1\\.([01]) ([0-9]{{3}})(?: {_TEXT_CHARS}*)?".encode())
_HEADER_LINE = re.compile(f"({_TOKEN_CHARS}):[ \t]*({_TEXT_CHARS}*?)[ \t]*".encode())
_FOLDED_LINE = re.compile(f"[ \t]{_TEXT_CHARS}*".encode())
_CHUNK_HEADER = re.compile(f"([0-9A-Fa-f]{{1,16}})[ \t]*(?:;{_TEXT_CHARS}*)?".encode())


def _status_line(line: bytes) -> re.Match[bytes]:
    """Return the match of a reply's status line, or raise BadReply."""
    status = _STATUS_LINE.fullmatch(line)
    if status is None or int(status.group(2)) < 100:
        raise BadReply(f'invalid status line "{excerpt(line)}"')
    return status


def _parse_head(head: bytes) -> tuple[int, str, dict[str, str]]:
    """Return the status, HTTP version ("1.0", "1.1") and headers of a reply head.

    Header names come back lowercase, and a repeated header's values are
    joined with ", " as RFC 9110 allows. Raises BadReply for anything malformed.
    """
    lines = head.split(b"\n")
    status = _status_line(lines[0].rstrip(b"\r"))
    headers: dict[str, str] = {}
    name = ""
    for raw in lines[1:]:
        line = raw.rstrip(b"\r")
        if line[:1] in (b" ", b"\t") and name:
            # An obsolete folded line continues the header before it.
            if not _FOLDED_LINE.fullmatch(line):
                raise BadReply(f'invalid header line "{excerpt(line)}"')
            headers[name] += " " + line.strip(b" \t").decode("latin-1")
            continue
        field = _HEADER_LINE.fullmatch(line)
        if field is None:
            raise BadReply(f'invalid header line "{excerpt(line)}"')
        name = field.group(1).decode("ascii").lower()
        value = field.group(2).decode("latin-1")
        old = headers.get(name)
        headers[name] = value if old is None else f"{old}, {value}"
    return int(status.group(2)), f"1.{status.group(1).decode()}", headers


def _buffered(reader: asyncio.StreamReader) -> bool:
    """Return whether the event loop has read bytes that no reply has used yet.

    An idle connection has none, unless the server sent something after the
    last reply. The next reply would then be read as the wrong one.
    """
    # NOTE: StreamReader has no public way to see its buffer. ``_buffer`` is
    # a bytearray in CPython 3.11 to 3.13. Without it, assume bytes wait.
    buffer = getattr(reader, "_buffer", None)
    return not isinstance(buffer, bytearray) or bool(buffer)


def _tokens(value: str) -> list[str]:
    """Return the lowercase entries of a comma-separated header value."""
    return [part.strip().lower() for part in value.split(",") if part.strip()]


def _content_length(value: str) -> int:
    """Return the length a Content-Length header gives, or raise BadReply.

    A repeated header arrives joined with commas, and its copies must agree.
    """
    lengths = {part.strip() for part in value.split(",")}
    length = lengths.pop() if len(lengths) == 1 else ""
    if not length.isdigit() or not length.isascii() or len(length) > 18:
        raise BadReply(f'bad Content-Length "{excerpt(value.encode("latin-1"))}"')
    return int(length)


class BadRequest(ValueError):
    """The request would carry a character that HTTP does not allow."""


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
    """POST requests to one origin over one kept-alive connection.

    A request sent while another is in flight goes over a second connection,
    closed after its reply.
    """

    def __init__(
        self,
        base_url: str,
        ssl_context: ssl.SSLContext | None,
        *,
        user_agent: str,
        max_body: int,
        timeout: float,
    ):
        self._base_url = base_url
        self._user_agent = user_agent
        self._max_body = max_body
        self.timeout = timeout

        parts = urlsplit(base_url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or ""
        default_port = 443 if self.https else 80
        self.port = parts.port or default_port
        self._ssl = ssl_context if self.https else None
        self._prefix = parts.path.rstrip("/")
        host_text = f"[{self.host}]" if ":" in self.host else self.host
        host_header = (
            host_text if self.port == default_port else f"{host_text}:{self.port}"
        )
        self._fixed_head = (
            f"Host: {host_header}\r\nUser-Agent: {user_agent}\r\n"
            "Accept: application/json\r\nContent-Type: application/json\r\n"
        )
        if not _VALUE.fullmatch(self._fixed_head.replace("\r\n", "")):
            raise BadRequest(
                "the host or user agent contains a character HTTP does not allow"
            )

        # Whether a request is in flight on this connection.
        self._busy = False
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        # The transport's socket, which select() can poll.
        self._socket: Any = None
        # Bytes read from the socket but not yet parsed.
        self._buffer = bytearray()
        # Whether the last reply ended cleanly and the connection may be reused.
        self._idle = False
        self._idle_since = 0.0
        # The extra headers of the last request, once checked.
        self._checked_fields: tuple[tuple[str, str], ...] = ()

    async def post(
        self, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        """Send one POST with a JSON body and return status, headers and body.

        Header names in the result are lowercase. Raises ConnectFailed when
        no connection could be opened, OSError when it broke, StepTimeout
        when one step took longer than ``timeout``, and ConnectionDropped,
        BadReply or BodyTooLarge for the reply.
        """
        if self._busy:
            # A request is in flight here, such as a heartbeat while the live
            # tail is prepared again. This one gets a connection of its own.
            extra = PostConnection(
                self._base_url,
                self._ssl,
                user_agent=self._user_agent,
                max_body=self._max_body,
                timeout=self.timeout,
            )
            try:
                return await extra.post(path, body, headers)
            finally:
                await extra.aclose()
        self._busy = True
        try:
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
        finally:
            self._busy = False

    def _reusable(self) -> bool:
        return (
            self._writer is not None
            and self._reader is not None
            and self._idle
            and not self._writer.is_closing()
            and not self._reader.at_eof()
            and not _buffered(self._reader)
            and time.monotonic() - self._idle_since < KEEPALIVE_EXPIRY
            and not self._readable()
        )

    def _readable(self) -> bool:
        """Return whether the idle socket has bytes or an EOF the loop has not seen.

        An idle connection has nothing to read unless the server closed it,
        possibly so recently that the event loop has not noticed yet.
        """
        sock = self._socket
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
        self._socket = self._writer.get_extra_info("socket")
        transport = self._writer.transport
        if isinstance(getattr(transport, "max_size", None), int):
            # NOTE: asyncio's socket transport (checked in CPython 3.11 to
            # 3.13) calls recv() with max_size, 256 KiB. A buffer that
            # large comes from mmap, so every reply cost an mmap, a page
            # fault, an mremap and an munmap. A heartbeat reply is well under 1 KiB.
            transport.max_size = RECV_SIZE

    def _request_head(self, path: str, size: int, headers: dict[str, str]) -> bytes:
        """Return the head of one POST request, checking what goes into it."""
        target = self._prefix + path
        if not _TARGET.fullmatch(target):
            raise BadRequest(f"invalid request path {excerpt(target.encode())}")
        fields = tuple(headers.items())
        if fields != self._checked_fields:
            for name, value in fields:
                if not _TOKEN.fullmatch(name) or not _VALUE.fullmatch(value):
                    raise BadRequest(
                        f"the {name} header contains a character HTTP does not allow"
                    )
            self._checked_fields = fields
        extra = "".join(f"{name}: {value}\r\n" for name, value in fields)
        return (
            f"POST {target} HTTP/1.1\r\n{self._fixed_head}"
            f"Content-Length: {size}\r\n{extra}\r\n"
        ).encode("latin-1")

    async def _exchange(
        self, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        assert self._writer is not None
        self._idle = False
        self._writer.write(self._request_head(path, len(body), headers) + body)
        if self._writer.transport.get_write_buffer_size():
            # The socket did not take the whole request at once, so wait for it.
            try:
                async with asyncio.timeout(self.timeout):
                    await self._writer.drain()
            except TimeoutError:
                raise StepTimeout("WriteTimeout") from None

        while True:
            status, version, reply_headers = _parse_head(await self._read_head())
            if status == 101:
                raise BadReply("unexpected 101 Switching Protocols reply")
            if status >= 200:
                break
            # An informational reply (100 Continue) comes before the real one.

        keep = version == "1.1" and "close" not in _tokens(
            reply_headers.get("connection", "")
        )
        if status in (204, 304):
            reply_body = b""
        elif "transfer-encoding" in reply_headers:
            codings = _tokens(reply_headers["transfer-encoding"])
            if codings != ["chunked"]:
                raise BadReply(
                    "unsupported Transfer-Encoding "
                    f'"{excerpt(reply_headers["transfer-encoding"].encode("latin-1"))}"'
                )
            reply_body = await self._read_chunked()
            if "content-length" in reply_headers:
                # RFC 9112 section 6.3: a reply with both may be an attempt at
                # request smuggling, so the connection is not reused.
                keep = False
        elif "content-length" in reply_headers:
            reply_body = await self._read_exactly(
                _content_length(reply_headers["content-length"])
            )
        else:
            # No length: the body ends where the server closes the connection.
            reply_body = await self._read_to_close()
            keep = False

        if keep and not self._buffer:
            self._idle_since = time.monotonic()
            self._idle = True
        else:
            # The server asked to close, or sent bytes after the reply.
            self.close()
        return status, reply_headers, reply_body

    async def _fill(self) -> bool:
        """Read the server's next bytes into the buffer, or return False at the end."""
        assert self._reader is not None
        try:
            async with asyncio.timeout(self.timeout):
                data = await self._reader.read(READ_SIZE)
        except TimeoutError:
            raise StepTimeout("ReadTimeout") from None
        if not data:
            return False
        self._buffer += data
        return True

    async def _read_head(self) -> bytes:
        """Return the next reply's status line and headers, not the blank line after."""
        while True:
            end = _HEAD_END.search(self._buffer)
            if (len(self._buffer) if end is None else end.start()) > MAX_HEAD:
                raise BadReply(f"the reply head is longer than {MAX_HEAD // 1024} KiB")
            if end is not None:
                head = bytes(self._buffer[: end.start()])
                del self._buffer[: end.end()]
                return head
            if b"\n" in self._buffer:
                # A server that is not HTTP may send one line and then wait.
                self._check_first_line()
            if not await self._fill():
                if self._buffer:
                    self._check_first_line()
                raise ConnectionDropped(DROPPED)

    def _check_first_line(self) -> None:
        """Raise BadReply unless the buffered bytes start with a status line."""
        _status_line(bytes(self._buffer.partition(b"\n")[0]).rstrip(b"\r"))

    async def _read_line(self, what: str) -> bytes:
        """Return the next line of a chunked body, without its line end."""
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line = bytes(self._buffer[:end]).rstrip(b"\r")
                del self._buffer[: end + 1]
                return line
            if len(self._buffer) > MAX_LINE:
                raise BadReply(f"invalid {what} (longer than {MAX_LINE} bytes)")
            if not await self._fill():
                raise ConnectionDropped(DROPPED)

    async def _read_exactly(self, size: int) -> bytes:
        if size > self._max_body:
            raise BodyTooLarge
        while len(self._buffer) < size:
            if not await self._fill():
                raise ConnectionDropped(DROPPED)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    async def _read_to_close(self) -> bytes:
        while await self._fill():
            if len(self._buffer) > self._max_body:
                raise BodyTooLarge
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    async def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            if len(chunks) >= MAX_CHUNKS:
                raise BadReply(f"the reply has more than {MAX_CHUNKS} chunks")
            line = await self._read_line("chunk header")
            match = _CHUNK_HEADER.fullmatch(line)
            if match is None:
                raise BadReply(f'invalid chunk header "{excerpt(line)}"')
            length = int(match.group(1), 16)
            if length == 0:
                break
            size += length
            if size > self._max_body:
                raise BodyTooLarge
            chunks.append(await self._read_exactly(length))
            if await self._read_line("chunk end"):
                raise BadReply("invalid chunk: longer than the size in its header")
        # Trailer fields follow the last chunk up to a blank line. None is used.
        trailers = 0
        while line := await self._read_line("trailer line"):
            trailers += len(line) + len(b"\r\n")
            if trailers > MAX_HEAD:
                raise BadReply(f"the trailer is longer than {MAX_HEAD // 1024} KiB")
        return b"".join(chunks)

    def close(self) -> None:
        """Drop the connection, so that the next request opens a new one."""
        writer, self._writer, self._reader = self._writer, None, None
        self._socket = None
        self._buffer.clear()
        self._idle = False
        if writer is not None:
            writer.close()

    async def aclose(self) -> None:
        writer = self._writer
        self.close()
        if writer is not None:
            # A TLS peer that never completes the close must not delay quitting.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)
