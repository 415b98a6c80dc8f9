"""The live-tail WebSocket client: receive events, reconnect, keep what arrived.

``LiveStream`` connects to the ``wsUrl`` that preparing the live tail
returned, turns every frame into ``EventLine`` objects and hands them to
``on_event``. A dropped connection is retried with capped exponential backoff
and jitter. When the server rejects the URL itself (an HTTP 4xx reply to the
handshake, or a close code that means the session is gone), the stream calls
``refresh_url``, which prepares the live tail again and returns a fresh URL.

Every event that arrives goes into a bounded ring in memory and, when an
append file is set, into a JSON Lines file as it arrives.

Credentials: the wsUrl carries its own session id and is taken to be
pre-authorised, because the prepare call that returned it was authenticated
and the API documents no credential for the WebSocket. So credential headers
are sent only when the wsUrl has the same origin as the API base URL, never
to another host, and handshake redirects are never followed. The URL itself
is a bearer secret under that assumption, so only its scheme and host are
logged or shown.

This module imports no Textual.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import json
import logging
import os
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
)

from tui.api import USER_AGENT, is_loopback, make_ssl_context
from tui.events import EventLine, event_record, parse_frame
from tui.text import duration, local_time

log = logging.getLogger(__name__)

DEFAULT_RING_SIZE = 5000
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0
OPEN_TIMEOUT = 10.0
# Seconds given to the closing handshake before the connection is dropped.
CLOSE_TIMEOUT = 1.0
# A connection that stayed open this long resets the backoff to its start.
STABLE_SECONDS = 10.0
# Largest frame accepted; a bigger one closes the connection with code 1009.
MAX_FRAME_BYTES = 4 * 1024 * 1024
# Frames buffered by the library before it stops reading from the socket.
MAX_QUEUED_FRAMES = 64

# Close codes after which the old URL is not tried again: 1008 (policy
# violation) and the application range 4000-4999.
# NOTE: Cloudflare documents no close codes for the live tail, so this set is
# a guess. After any other code the stream reconnects to the same URL first,
# and calls refresh_url when that handshake gets a 4xx reply.
SESSION_GONE_CODES = frozenset((1008, *range(4000, 5000)))

CLOSE_NAMES = {
    1000: "normal closure",
    1001: "going away",
    1006: "connection lost",
    1008: "policy violation",
    1009: "frame too big",
    1011: "server error",
    1012: "service restart",
    1013: "try again later",
}


class StreamState(enum.StrEnum):
    IDLE = "idle"
    CONNECTING = "connecting"
    OPEN = "open"
    RECONNECTING = "reconnecting"
    CLOSED = "closed"


class UnsafeUrlError(ValueError):
    """A wsUrl that the stream must not connect to."""


def check_ws_url(url: str) -> str:
    """Return the URL if it is wss://, or ws:// to loopback; else raise."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("ws", "wss") or not host:
        raise UnsafeUrlError(
            f"invalid live-tail URL {safe_origin(url)!r}: expected wss://host/path"
        )
    if parts.username or parts.password:
        raise UnsafeUrlError(
            "the live-tail URL must not contain a user name or password"
        )
    if parts.scheme == "ws" and not is_loopback(host):
        raise UnsafeUrlError(
            f"plain ws:// to {host} is not allowed, because events would travel "
            "unencrypted: use wss://, or ws:// only to a loopback address"
        )
    return url


def safe_origin(url: str) -> str:
    """Return the scheme and host of a URL, leaving out the secret path."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return "(not a URL)"
    netloc = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{netloc}"


def same_origin(ws_url: str, api_base_url: str) -> bool:
    """Return whether a wsUrl has the API's host and port, over TLS if it has."""
    ws, api = urlsplit(ws_url), urlsplit(api_base_url)
    secure = {"wss": "https", "ws": "http"}.get(ws.scheme)
    if secure != api.scheme or ws.hostname != api.hostname:
        return False
    default = 443 if api.scheme == "https" else 80
    return (ws.port or default) == (api.port or default)


def backoff_delay(
    attempt: int,
    base: float = BACKOFF_BASE,
    cap: float = BACKOFF_CAP,
    rng: Callable[[], float] = random.random,
) -> float:
    """Return the wait before reconnect number ``attempt`` (1 for the first).

    The ceiling doubles from ``base`` up to ``cap``. Half of it is fixed and
    half random ("equal jitter"), so that many clients spread out but never
    retry at once.
    """
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return ceiling / 2 + rng() * ceiling / 2


def describe_close(code: int | None, reason: str) -> str:
    if code is None:
        return "the connection was lost without a close frame"
    name = CLOSE_NAMES.get(code, "closed by the server")
    text = f"{code} {name}"
    return f"{text}: {reason}" if reason else text


class _NoRedirectConnect(connect):
    """The library's connect, with redirects rejected instead of followed.

    A redirect could carry the handshake, and any credential header on it,
    to a host that the API never named.
    """

    def process_redirect(self, exc: Exception) -> Exception | str:
        return exc


class LiveStream:
    """One live-tail WebSocket, kept open until ``stop()``.

    ``url`` may be None: the stream then calls ``refresh_url`` for its first
    URL. ``refresh_url`` returns a fresh wsUrl, or None when preparing the
    live tail again failed (the stream then retries with backoff). Without it,
    a rejected URL closes the stream for good.

    ``on_event`` runs once per event and ``on_state`` once per state change,
    both in the event loop that runs the stream. An exception in them is
    logged and does not stop the stream.
    """

    def __init__(
        self,
        url: str | None,
        *,
        on_event: Callable[[EventLine], None] | None = None,
        on_state: Callable[[str], None] | None = None,
        refresh_url: Callable[[], Awaitable[str | None]] | None = None,
        api_base_url: str | None = None,
        credential_headers: Mapping[str, str] | None = None,
        ring_size: int = DEFAULT_RING_SIZE,
        append_path: Path | str | None = None,
        backoff_base: float = BACKOFF_BASE,
        backoff_cap: float = BACKOFF_CAP,
        open_timeout: float = OPEN_TIMEOUT,
        ca_bundle: str | None = None,
        rng: Callable[[], float] = random.random,
        wall: Callable[[], float] = time.time,
    ):
        if ring_size < 1:
            raise ValueError(f"ring_size {ring_size} must be at least 1")
        # Set from the loop, after the URL passed check_ws_url.
        self.url: str | None = None
        self._on_event = on_event
        self._on_state = on_state
        self._refresh_url = refresh_url
        self._api_base_url = api_base_url
        self._credential_headers = dict(credential_headers or {})
        self._backoff = (backoff_base, backoff_cap)
        self._open_timeout = open_timeout
        self._ca_bundle = ca_bundle
        self._ssl: ssl.SSLContext | None = None
        self._rng = rng
        self._wall = wall

        self.events: collections.deque[EventLine] = collections.deque(maxlen=ring_size)
        self.received = 0
        self.frames = 0
        self.connections = 0
        self.state = StreamState.IDLE
        self.state_text = "not started"
        self.attempt = 0
        self.next_try_wall: float | None = None
        # Close code and reason of the last connection that ended.
        self.close_code: int | None = None
        self.close_reason = ""
        self.last_error = ""

        self._append_file: IO[str] | None = None
        self.append_path: Path | None = None
        if append_path is not None:
            self.start_append(append_path)

        self._task: asyncio.Task[None] | None = None
        self._ws: ClientConnection | None = None
        self._stopping = False
        # A URL to connect to next, checked by the loop, not by the caller.
        self._switch_to: str | None = url
        self._wake = asyncio.Event()

    # -- control -------------------------------------------------------------

    def start(self, url: str | None = None) -> asyncio.Task[None]:
        """Start connecting, to ``url`` if given, in a task of the running loop.

        An unsafe URL does not raise here. The stream closes instead, and
        ``state_text`` gives the reason.
        """
        if self._task is not None:
            raise RuntimeError("LiveStream was already started")
        if url is not None:
            self._switch_to = url
        self._task = asyncio.create_task(self._run(), name="live-tail stream")
        return self._task

    @property
    def task(self) -> asyncio.Task[None] | None:
        return self._task

    @property
    def evicted(self) -> int:
        """Events that left the ring because it was full."""
        return self.received - len(self.events)

    def reconnect(self, url: str | None = None) -> None:
        """Drop the connection and connect again at once, to ``url`` if given.

        Use it after preparing the live tail again with new filters.
        """
        self._switch_to = url or self.url
        self.attempt = 0
        self._wake.set()
        ws = self._ws
        if ws is not None:
            asyncio.ensure_future(ws.close(1000, "switching to a new URL"))

    async def stop(self) -> None:
        """Close the connection and end the task; returns within about a second."""
        if self._stopping:
            await self._wait_task()
            return
        self._stopping = True
        self._wake.set()
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await ws.close(1000, "client stopped")
        if self._task is not None and not self._task.done():
            self._task.cancel()
        await self._wait_task()
        if ws is not None and ws.transport is not None:
            ws.transport.abort()
        if self.state is not StreamState.CLOSED:
            self._set_state(StreamState.CLOSED, "closed: stopped")
        self.stop_append()

    async def _wait_task(self) -> None:
        if self._task is None:
            return
        try:
            await self._task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise

    # -- saving --------------------------------------------------------------

    def save_jsonl(self, path: Path | str) -> int:
        """Write the events in the ring to ``path`` as JSON Lines; return the count.

        The file is created with mode 0600, because events can hold request
        URLs and log text. Raises OSError when the file cannot be written.
        """
        lines = list(self.events)
        with _open_private(Path(path), "w") as out:
            for line in lines:
                out.write(_json_line(line))
        return len(lines)

    def start_append(self, path: Path | str) -> None:
        """Append every event from now on to ``path`` as one JSON line.

        Raises OSError when the file cannot be opened.
        """
        self.stop_append()
        self._append_file = _open_private(Path(path), "a")
        self.append_path = Path(path)

    def stop_append(self) -> None:
        out, self._append_file = self._append_file, None
        if out is not None:
            with contextlib.suppress(OSError):
                out.close()

    # -- the loop ------------------------------------------------------------

    async def _run(self) -> None:
        try:
            await self._loop()
        except asyncio.CancelledError:
            raise
        except UnsafeUrlError as exc:
            log.error("live-tail stream stopped: %s", exc)
            self.last_error = str(exc)
            self._set_state(StreamState.CLOSED, f"closed: {exc}")
        except Exception as exc:  # noqa: BLE001 - say why, keep the app alive
            log.exception("live-tail stream failed")
            self.last_error = f"internal error: {type(exc).__name__}: {exc}"
            self._set_state(StreamState.CLOSED, f"closed: {self.last_error}")

    async def _loop(self) -> None:
        need_url = self._switch_to is None
        while not self._stopping:
            if self._switch_to is not None:
                url, self._switch_to = self._switch_to, None
                self.url = check_ws_url(url)
                need_url = False
            if need_url:
                if self._refresh_url is None:
                    self._set_state(
                        StreamState.CLOSED,
                        f"closed: {self.last_error or 'no live-tail URL'}; "
                        "prepare the live tail again to reconnect",
                    )
                    return
                if not await self._refresh():
                    self.attempt += 1
                    await self._retry_later("preparing the live tail again failed")
                    continue
                need_url = False
            assert self.url is not None
            need_url = await self._connect_once(self.url)

    async def _refresh(self) -> bool:
        assert self._refresh_url is not None
        self._set_state(StreamState.CONNECTING, "connecting: preparing the live tail")
        try:
            url = await self._refresh_url()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a failed refresh is retried
            log.warning("preparing the live tail again failed: %s", exc)
            return False
        if not url:
            return False
        self.url = check_ws_url(url)
        log.info("live tail has a fresh URL at %s", safe_origin(url))
        return True

    async def _connect_once(self, url: str) -> bool:
        """Connect, read until the connection ends, then wait for the next try.

        Returns whether the next try needs a fresh URL.
        """
        self.attempt += 1
        where = safe_origin(url)
        self._set_state(
            StreamState.CONNECTING, f"connecting to {where} (attempt {self.attempt})"
        )
        try:
            ws = await self._open(url)
        except InvalidStatus as exc:
            status = exc.response.status_code
            self.last_error = f"the server rejected the connection with HTTP {status}"
            log.warning("live-tail handshake to %s: HTTP %d", where, status)
            if 400 <= status < 500:
                if self._refresh_url is not None:
                    await self._retry_later(self.last_error, refresh=True)
                # The loop closes the stream when it has no way to a fresh URL.
                return True
            await self._retry_later(self.last_error)
            return False
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            self.last_error = f"connection failed: {_exception_text(exc)}"
            log.warning("live-tail connection to %s failed: %s", where, exc)
            await self._retry_later(self.last_error)
            return False

        if self._stopping or self._switch_to is not None:
            # stop() or reconnect() came while the handshake was under way.
            await ws.close(1000, "client no longer needs this connection")
            return False
        self._ws = ws
        self.connections += 1
        opened = time.monotonic()
        log.info("live-tail stream open at %s", where)
        self._set_state(StreamState.OPEN, f"open: {where}")
        try:
            await self._read(ws)
        finally:
            self._ws = None
        if self._stopping:
            return False
        if self._switch_to is not None:
            self.attempt = 0
            return False
        self.close_code, self.close_reason = ws.close_code, ws.close_reason or ""
        if time.monotonic() - opened >= STABLE_SECONDS:
            self.attempt = 0
        self.last_error = describe_close(self.close_code, self.close_reason)
        log.warning("live-tail stream closed: %s", self.last_error)
        session_gone = self.close_code in SESSION_GONE_CODES
        await self._retry_later(f"closed with {self.last_error}", session_gone)
        return session_gone

    async def _open(self, url: str) -> ClientConnection:
        parts = urlsplit(url)
        loopback = is_loopback(parts.hostname or "")
        headers: dict[str, str] = {}
        if self._api_base_url and same_origin(url, self._api_base_url):
            headers.update(self._credential_headers)
        options: dict[str, Any] = {}
        if parts.scheme == "wss":
            if self._ssl is None:
                self._ssl = make_ssl_context(self._ca_bundle)
            options["ssl"] = self._ssl
        return await _NoRedirectConnect(
            url,
            additional_headers=headers or None,
            user_agent_header=USER_AGENT,
            # A loopback server must never be reached through a proxy.
            proxy=None if loopback else True,
            open_timeout=self._open_timeout,
            close_timeout=CLOSE_TIMEOUT,
            max_size=MAX_FRAME_BYTES,
            max_queue=MAX_QUEUED_FRAMES,
            **options,
        )

    async def _read(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in ws:
                self.frames += 1
                for line in parse_frame(frame, self._wall()):
                    self._keep(line)

    def _keep(self, line: EventLine) -> None:
        self.events.append(line)
        self.received += 1
        if self._append_file is not None:
            self._append(line)
        if self._on_event is not None:
            try:
                self._on_event(line)
            except Exception:  # noqa: BLE001 - one bad callback must not stop events
                log.exception("the live-tail event callback failed")

    def _append(self, line: EventLine) -> None:
        assert self._append_file is not None
        try:
            self._append_file.write(_json_line(line))
            self._append_file.flush()
        except OSError as exc:
            log.error("appending events to %s failed: %s", self.append_path, exc)
            self.last_error = f"appending to {self.append_path} failed: {exc}"
            self.stop_append()

    async def _retry_later(self, reason: str, refresh: bool = False) -> None:
        """Wait the backoff delay, or less if ``reconnect()`` or ``stop()`` wakes it."""
        self._wake.clear()
        if self._stopping or self._switch_to is not None:
            return
        delay = backoff_delay(max(1, self.attempt), *self._backoff, rng=self._rng)
        self.next_try_wall = self._wall() + delay
        action = "preparing the live tail again" if refresh else "retrying"
        self._set_state(
            StreamState.RECONNECTING,
            f"reconnecting: {reason}; {action} at {local_time(self.next_try_wall)} "
            f"(in {_seconds_text(delay)}, attempt {self.attempt + 1})",
        )
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._wake.wait()
        self.next_try_wall = None

    def _set_state(self, state: StreamState, text: str) -> None:
        self.state = state
        self.state_text = text
        if self._on_state is not None:
            try:
                self._on_state(text)
            except Exception:  # noqa: BLE001 - the stream outlives a bad callback
                log.exception("the live-tail state callback failed")


def _json_line(line: EventLine) -> str:
    return json.dumps(event_record(line), ensure_ascii=False, default=str) + "\n"


def _open_private(path: Path, mode: str) -> IO[str]:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "a" else os.O_TRUNC)
    descriptor = os.open(path, flags, 0o600)
    return os.fdopen(descriptor, mode, encoding="utf-8")


def _seconds_text(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 10 else duration(seconds)


def _exception_text(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
