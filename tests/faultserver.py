"""HTTP/1.1 server on loopback that replies to each request with a chosen fault.

Tests queue `Reply` objects on a `FaultServer`, point the client at
`FaultServer.base_url` and then inspect `FaultServer.requests`. The server parses
HTTP/1.1 itself (request line, headers, Content-Length or chunked bodies,
keep-alive) so that it can misbehave at the byte level: delay, trickle the body,
close before the reply, reset the connection, cut the body short, or close a
kept-alive connection behind the client's back.

It runs an asyncio loop in a daemon thread and uses only the standard library.
Nothing is printed; the logger "tests.faultserver" records events at debug level.

    with FaultServer() as server:
        server.enqueue(Reply.envelope_error(403, 10000, "Authentication error"))
        httpx.post(server.base_url + "/accounts/x/workers/observability/...")
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import http
import ipaddress
import itertools
import json
import logging
import socket
import struct
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal

logger = logging.getLogger("tests.faultserver")

API_PREFIX = "/client/v4"
DEFAULT_RAY = "8f3a1c2b4d5e6f70-LHR"
DROP_KINDS = ("before_headers", "reset", "mid_body", "truncated_json")
MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_RECORDED_REQUESTS = 10_000

# Cloudflare's error for the API rate limit, as seen in a 429 body from
# api.cloudflare.com quoted in a Terraform provider error log (April 2025).
RATE_LIMIT_CODE = 971
RATE_LIMIT_MESSAGE = "Please wait and consider throttling your request speed"

DropKind = Literal["before_headers", "reset", "mid_body", "truncated_json"]
JsonBody = dict[str, Any] | list[Any]


def envelope(
    result: Any = None,
    *,
    success: bool = True,
    errors: list[dict[str, Any]] | None = None,
    messages: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Build a Cloudflare API envelope.

    A missing `result` becomes an empty object on success and null on failure.
    """
    return {
        "success": success,
        "errors": errors if errors is not None else [],
        "messages": messages if messages is not None else [],
        "result": {} if result is None and success else result,
    }


@dataclass
class Reply:
    """One scripted reply, optionally with a fault at the HTTP or TCP level.

    `headers` override the automatic Content-Type, Content-Length and Connection
    headers when their names match case-insensitively, so a test can send a
    Content-Length that does not match the body.
    """

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    # None sends the success envelope. A dict or list is encoded as JSON and a
    # str as UTF-8.
    body: bytes | str | JsonBody | None = None
    content_type: str = "application/json"
    # Seconds to wait after reading the request before sending anything.
    delay: float = 0.0
    # Seconds to wait before sending each body byte, after the headers are sent.
    trickle: float | None = None
    drop: DropKind | None = None
    # Send "Connection: close" and close the connection after the reply.
    close_after: bool = False
    # Reply with keep-alive, stop reading from the connection and close it
    # `close_delay` seconds later.
    keepalive_then_close: bool = False
    close_delay: float = 0.05
    # Number of matching requests that this reply serves.
    repeat: int = 1

    def __post_init__(self) -> None:
        self._validate()

    def _validate(self) -> None:
        if not 100 <= self.status <= 999:
            raise ValueError(f"status {self.status} is invalid: use 100 to 999")
        if self.delay < 0:
            raise ValueError(f"delay {self.delay} is negative")
        if self.trickle is not None and self.trickle <= 0:
            raise ValueError(f"trickle {self.trickle} must be positive or None")
        if self.close_delay < 0:
            raise ValueError(f"close_delay {self.close_delay} is negative")
        if self.repeat < 1:
            raise ValueError(f"repeat {self.repeat} must be at least 1")
        if self.drop is not None and self.drop not in DROP_KINDS:
            raise ValueError(f"drop {self.drop!r} is invalid: use one of {DROP_KINDS}")
        if self.close_after and self.keepalive_then_close:
            raise ValueError("close_after and keepalive_then_close exclude each other")
        if self.drop in ("mid_body", "truncated_json") and len(self.body_bytes()) < 2:
            raise ValueError(f"drop {self.drop!r} needs a body of at least 2 bytes")
        for name, value in {**self.headers, "content-type": self.content_type}.items():
            try:
                f"{name}: {value}".encode("latin-1")
            except UnicodeEncodeError:
                raise ValueError(
                    f"header {name!r} is not latin-1 text: encode it first"
                ) from None

    def body_bytes(self) -> bytes:
        """Encode the body as it goes on the wire, before any truncation."""
        if self.body is None:
            return json.dumps(envelope()).encode()
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()

    @classmethod
    def envelope_error(
        cls,
        status: int,
        code: int,
        message: str,
        ray: str = DEFAULT_RAY,
        **options: Any,
    ) -> Reply:
        """Build a failed Cloudflare envelope with one error and a cf-ray header."""
        body = envelope(
            success=False, errors=[{"code": code, "message": message}], result=None
        )
        headers = {"cf-ray": ray, **options.pop("headers", {})}
        return cls(status=status, headers=headers, body=body, **options)

    @classmethod
    def html(
        cls, status: int = 502, text: str = "Bad gateway", **options: Any
    ) -> Reply:
        """Build an HTML error page such as a proxy sends in place of JSON."""
        page = (
            "<!DOCTYPE html>\n<html><head><title>"
            f"{status} {text}</title></head>\n"
            f"<body><h1>{status} {text}</h1><hr><center>proxy</center></body></html>\n"
        )
        return cls(
            status=status,
            body=page,
            content_type="text/html; charset=utf-8",
            **options,
        )

    @classmethod
    def rate_limited(cls, retry_after: str | int = "7", **options: Any) -> Reply:
        """Build a 429 reply with Retry-After, given in seconds or as an HTTP date."""
        reply = cls.envelope_error(429, RATE_LIMIT_CODE, RATE_LIMIT_MESSAGE, **options)
        reply.headers["retry-after"] = str(retry_after)
        return reply


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server parsed it."""

    method: str
    # "HTTP/1.1" or "HTTP/1.0".
    version: str
    # Path without the query string, for example "/client/v4/user".
    path: str
    # Raw query string without the "?", empty when there is none.
    query: str
    # Header names in lower case. Repeated headers are joined with ", ".
    headers: dict[str, str]
    # Body after removing any chunked transfer coding.
    body: bytes
    # time.monotonic() when the request head had been read.
    arrived_at: float
    # Number of the TCP connection, counted from 1, so tests can see reuse.
    connection_id: int

    def json(self) -> Any:
        """Decode the body as JSON."""
        return json.loads(self.body)


@dataclass
class _QueuedReply:
    reply: Reply
    path_contains: str | None
    remaining: int


class _BadRequest(Exception):
    """A request that the parser rejects with 400."""


class FaultServer:
    """HTTP/1.1 server on a loopback address that sends scripted faulty replies.

    Queued replies are served first in, first out to the requests whose path
    contains their `path_contains` text. A request that matches no queued reply
    gets the default reply, which is the success envelope until `set_default`.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_recorded_requests: int = MAX_RECORDED_REQUESTS,
    ) -> None:
        address = ipaddress.ip_address(host)
        if not address.is_loopback:
            raise ValueError(f"host {host!r} is not a loopback address: use 127.0.0.1")
        self.host = host
        self.port = port
        self._family = socket.AF_INET6 if address.version == 6 else socket.AF_INET

        self._lock = threading.Lock()
        self._request_arrived = threading.Condition(self._lock)
        self._queue: list[_QueuedReply] = []
        self._default = Reply()
        self._requests: collections.deque[RecordedRequest] = collections.deque(
            maxlen=max_recorded_requests
        )
        self._request_count = 0
        self._connection_ids = itertools.count(1)

        # Owned by the loop thread once started.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._connections: dict[int, asyncio.StreamWriter] = {}
        self._handlers: set[asyncio.Task[None]] = set()
        self._relisten: concurrent.futures.Future[None] | None = None

    # Public interface, called from the test thread.

    @property
    def base_url(self) -> str:
        """Cloudflare API base URL on this server, without a trailing slash."""
        host = f"[{self.host}]" if self._family == socket.AF_INET6 else self.host
        return f"http://{host}:{self.port}{API_PREFIX}"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Copy of the recorded requests, oldest first, bounded to the newest ones."""
        with self._lock:
            return list(self._requests)

    def start(self) -> FaultServer:
        """Start listening and serving from a daemon thread, then return self."""
        if self._loop is not None:
            raise RuntimeError("FaultServer is already started")
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(_log_loop_exception)
        self._loop = loop
        self._thread = threading.Thread(
            target=loop.run_forever, name="faultserver", daemon=True
        )
        self._thread.start()
        try:
            self._run(self._listen())
        except BaseException:
            self.stop()
            raise
        logger.debug("listening on %s", self.base_url)
        return self

    def stop(self) -> None:
        """Close the listener and every connection, even one mid-reply."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._cancel_relisten()
        try:
            self._run(self._close_all())
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=2.0)
            if not thread.is_alive():
                loop.close()
            self._loop = None
            self._thread = None
        logger.debug("stopped on port %d", self.port)

    def restart(self, down_for: float = 0.0) -> FaultServer:
        """Close the listener and all connections, then listen on the same port.

        With `down_for` > 0 this returns at once and the server listens again
        after `down_for` seconds, so connections meanwhile are refused. Call
        `wait_listening` to wait for it. With 0 it returns once listening again.
        """
        if self._loop is None:
            raise RuntimeError("FaultServer is not started: call start() first")
        self._cancel_relisten()
        self._run(self._close_all())
        logger.debug("restarting on port %d after %.3f s", self.port, down_for)
        if down_for <= 0:
            self._run(self._listen())
        else:
            self._relisten = asyncio.run_coroutine_threadsafe(
                self._listen_after(down_for), self._loop
            )
        return self

    def wait_listening(self, timeout: float = 5.0) -> bool:
        """Wait until a delayed restart listens again, or return False on timeout.

        Raises the OSError from binding if the port could not be taken again.
        """
        relisten = self._relisten
        if relisten is None:
            return self._loop is not None
        try:
            relisten.result(timeout)
        except concurrent.futures.TimeoutError:
            return False
        return True

    def enqueue(self, reply: Reply, path_contains: str | None = None) -> None:
        """Queue a reply for the next `reply.repeat` requests whose path matches."""
        with self._lock:
            self._queue.append(_QueuedReply(reply, path_contains, reply.repeat))

    def set_default(self, reply: Reply) -> None:
        """Set the reply sent when no queued reply matches. `repeat` is ignored."""
        with self._lock:
            self._default = reply

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> bool:
        """Wait for `count` requests in total, or return False on timeout.

        The count includes requests that dropped out of the bounded record.
        """
        with self._request_arrived:
            return self._request_arrived.wait_for(
                lambda: self._request_count >= count, timeout
            )

    def __enter__(self) -> FaultServer:
        return self if self._loop is not None else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # Loop-thread side.

    def _run(self, coroutine: Coroutine[Any, Any, None], timeout: float = 5.0) -> None:
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def _cancel_relisten(self) -> None:
        if self._relisten is not None:
            self._relisten.cancel()
            self._relisten = None

    async def _listen(self) -> None:
        # socket.create_server sets SO_REUSEADDR, so the port can be bound again
        # while connections that the server closed are still in TIME_WAIT.
        sock = socket.create_server(
            (self.host, self.port), family=self._family, backlog=128
        )
        self.port = sock.getsockname()[1]
        self._server = await asyncio.start_server(
            self._handle_connection, sock=sock, limit=MAX_HEAD_BYTES
        )

    async def _listen_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        await self._listen()
        logger.debug("listening again on port %d", self.port)

    async def _close_all(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._connections.values()):
            writer.transport.abort()
        handlers = list(self._handlers)
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)

    async def _handle_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        connection_id = next(self._connection_ids)
        task = asyncio.current_task()
        assert task is not None
        self._connections[connection_id] = writer
        self._handlers.add(task)
        logger.debug("connection %d opened", connection_id)
        try:
            await self._serve_connection(connection_id, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError) as error:
            logger.debug("connection %d failed: %r", connection_id, error)
        except asyncio.CancelledError:
            logger.debug("connection %d closed by stop or restart", connection_id)
        except Exception:
            logger.debug("connection %d: server error", connection_id, exc_info=True)
        finally:
            del self._connections[connection_id]
            self._handlers.discard(task)
            if not writer.transport.is_closing():
                writer.transport.abort()
            logger.debug("connection %d closed", connection_id)

    async def _serve_connection(
        self,
        connection_id: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        while True:
            try:
                request = await _read_request(reader, connection_id)
            except _BadRequest as error:
                logger.debug("connection %d: bad request: %s", connection_id, error)
                await _send_bad_request(writer, str(error))
                return
            if request is None:
                return
            reply = self._record_and_pick(request)
            logger.debug(
                "connection %d: %s %s -> %d drop=%s",
                connection_id,
                request.method,
                request.path,
                reply.status,
                reply.drop,
            )
            if not await _send_reply(writer, reply, request):
                return

    def _record_and_pick(self, request: RecordedRequest) -> Reply:
        with self._request_arrived:
            self._requests.append(request)
            self._request_count += 1
            self._request_arrived.notify_all()
            for entry in self._queue:
                if entry.path_contains is None or entry.path_contains in request.path:
                    entry.remaining -= 1
                    if entry.remaining == 0:
                        self._queue.remove(entry)
                    return entry.reply
            return self._default


def _log_loop_exception(
    loop: asyncio.AbstractEventLoop, context: dict[str, Any]
) -> None:
    logger.debug(
        "asyncio: %s", context.get("message"), exc_info=context.get("exception")
    )


async def _read_request(
    reader: asyncio.StreamReader, connection_id: int
) -> RecordedRequest | None:
    """Read one request, or return None when the client closed between requests."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as error:
        if not error.partial.strip():
            return None
        raise _BadRequest("connection closed inside the request head") from None
    except asyncio.LimitOverrunError:
        raise _BadRequest(f"request head exceeds {MAX_HEAD_BYTES} bytes") from None
    arrived_at = time.monotonic()

    request_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise _BadRequest(f"invalid request line {request_line!r}")
    method, target, version = parts
    path, _, query = target.partition("?")

    headers: dict[str, str] = {}
    for line in header_lines:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise _BadRequest(f"invalid header line {line!r}")
        name = name.lower()
        value = value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value

    body = await _read_body(reader, headers)
    return RecordedRequest(
        method=method,
        version=version,
        path=path,
        query=query,
        headers=headers,
        body=body,
        arrived_at=arrived_at,
        connection_id=connection_id,
    )


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return await _read_chunked_body(reader)
    length_text = headers.get("content-length", "0")
    if not length_text.isdigit():
        raise _BadRequest(f"invalid Content-Length {length_text!r}")
    length = int(length_text)
    if length > MAX_BODY_BYTES:
        raise _BadRequest(f"body of {length} bytes exceeds {MAX_BODY_BYTES} bytes")
    return await reader.readexactly(length)


async def _read_chunked_body(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size_text = size_line.split(b";")[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise _BadRequest(f"invalid chunk size {size_text!r}") from None
        if size == 0:
            break
        total += size
        if total > MAX_BODY_BYTES:
            raise _BadRequest(f"chunked body exceeds {MAX_BODY_BYTES} bytes")
        chunks.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise _BadRequest("chunk data is not followed by CRLF")
    # Skip any trailer fields up to the empty line.
    while await reader.readuntil(b"\r\n") != b"\r\n":
        pass
    return b"".join(chunks)


def _wants_keep_alive(request: RecordedRequest) -> bool:
    connection = request.headers.get("connection", "").lower()
    tokens = {token.strip() for token in connection.split(",")}
    if "close" in tokens:
        return False
    return request.version == "HTTP/1.1" or "keep-alive" in tokens


def _build_head(reply: Reply, content_length: int, *, closing: bool) -> bytes:
    try:
        reason = http.HTTPStatus(reply.status).phrase
    except ValueError:
        reason = "Unknown"
    automatic = {
        "content-type": ("Content-Type", reply.content_type),
        "content-length": ("Content-Length", str(content_length)),
        "connection": ("Connection", "close" if closing else "keep-alive"),
    }
    if reply.status in (204, 304) or reply.status < 200:
        del automatic["content-length"]
    for name in reply.headers:
        automatic.pop(name.lower(), None)
    lines = [f"HTTP/1.1 {reply.status} {reason}"]
    lines += [f"{name}: {value}" for name, value in automatic.values()]
    lines += [f"{name}: {value}" for name, value in reply.headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _send_reply(
    writer: asyncio.StreamWriter, reply: Reply, request: RecordedRequest
) -> bool:
    """Send the reply with its fault and return whether the connection stays open."""
    if reply.delay:
        await asyncio.sleep(reply.delay)
    if reply.drop == "before_headers":
        await _close(writer)
        return False
    if reply.drop == "reset":
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
        return False

    body = reply.body_bytes()
    if reply.drop == "truncated_json":
        body = body[: len(body) // 2]
    sent_body = body[: len(body) // 2] if reply.drop == "mid_body" else body
    if request.method == "HEAD" or reply.status in (204, 304) or reply.status < 200:
        sent_body = b""
    closing = reply.close_after or not _wants_keep_alive(request)

    writer.write(_build_head(reply, len(body), closing=closing))
    await writer.drain()
    if reply.trickle is None:
        writer.write(sent_body)
        await writer.drain()
    else:
        for index in range(len(sent_body)):
            await asyncio.sleep(reply.trickle)
            writer.write(sent_body[index : index + 1])
            await writer.drain()

    if reply.drop == "mid_body" or closing:
        await _close(writer)
        return False
    if reply.keepalive_then_close:
        # A request that arrives meanwhile gets no reply. The stream reader has
        # already taken its bytes from the socket, so the close sends FIN, not RST.
        await asyncio.sleep(reply.close_delay)
        await _close(writer)
        return False
    return True


async def _send_bad_request(writer: asyncio.StreamWriter, message: str) -> None:
    reply = Reply(status=400, body=message + "\n", content_type="text/plain")
    body = reply.body_bytes()
    writer.write(_build_head(reply, len(body), closing=True) + body)
    await _close(writer)


async def _close(writer: asyncio.StreamWriter) -> None:
    """Send FIN once the write buffer is flushed, and wait for the socket to close."""
    writer.close()
    await writer.wait_closed()
