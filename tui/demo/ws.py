"""The demo live tail's WebSocket server, on loopback, in a daemon thread.

Preparing a live tail on the demo API registers a session here and returns
``ws://127.0.0.1:<port>/client/v4/live-tail/ws/<session id>``. A client that
connects to a registered session receives made-up events for its Worker
(``tui.demo.tail_events``), thinned by the session's filters with the same
matcher as the client uses (``tui.filters.event_matches``). An unknown or
forgotten session id gets HTTP 404 at the handshake, so the client has to
prepare the live tail again, as with an expired session on the live API.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import json
import logging
import random
import threading
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from tui.demo.tail_events import EventGenerator
from tui.filters import event_matches

logger = logging.getLogger("tui.demo.ws")

WS_PATH = "/client/v4/live-tail/ws/"
# Average events per second that a demo session produces before filtering.
DEFAULT_RATE = 5.0
# Seconds that stop() waits for the server thread.
STOP_TIMEOUT = 2.0
# Handshakes kept for tests to inspect.
MAX_RECORDED_HANDSHAKES = 200


@dataclasses.dataclass
class TailSession:
    """One prepared live tail: what to generate and which events to send."""

    session_id: str
    account_id: str
    script: str
    filters: list[dict[str, Any]]
    combination: str
    generator: EventGenerator
    # Events sent to clients, after filtering.
    sent: int = 0


@dataclasses.dataclass(frozen=True)
class Handshake:
    """One opening handshake as the server received it."""

    path: str
    # Header names in lower case.
    headers: dict[str, str]
    status: int


class LiveTailServer:
    """WebSocket server for demo live-tail sessions.

    ``rate`` is the average number of events per second that each session
    generates before its filters apply. ``seed`` fixes the sequence of
    events of each session id (timestamps still come from the clock).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        rate: float = DEFAULT_RATE,
        seed: int | None = None,
    ):
        if rate <= 0:
            raise ValueError(f"event rate {rate} must be positive")
        self.host = host
        self.rate = rate
        self._requested_port = port
        self._seed = seed
        self._lock = threading.Lock()
        self._sessions: dict[str, TailSession] = {}
        self._handshakes: list[Handshake] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Server | None = None
        self._port: int | None = None

    # -- from any thread -----------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("LiveTailServer has no port yet, call start() first")
        return self._port

    def url_for(self, session_id: str) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}{WS_PATH}{session_id}"

    def register(
        self,
        session_id: str,
        account_id: str,
        script: str,
        filters: list[dict[str, Any]] | None = None,
        combination: str = "and",
    ) -> str:
        """Remember a prepared live tail and return its WebSocket URL."""
        seed = f"{self._seed}:{session_id}" if self._seed is not None else None
        generator = EventGenerator(script, rate=self.rate, rng=random.Random(seed))
        session = TailSession(
            session_id,
            account_id,
            script,
            list(filters or []),
            combination,
            generator,
        )
        with self._lock:
            self._sessions[session_id] = session
        logger.debug("live-tail session %s registered for %s", session_id, script)
        return self.url_for(session_id)

    def session(self, session_id: str) -> TailSession | None:
        with self._lock:
            return self._sessions.get(session_id)

    def sessions(self) -> list[TailSession]:
        with self._lock:
            return list(self._sessions.values())

    def forget(self, session_id: str | None = None) -> None:
        """Forget one session, or all: their next handshakes get HTTP 404."""
        with self._lock:
            if session_id is None:
                self._sessions.clear()
            else:
                self._sessions.pop(session_id, None)

    @property
    def handshakes(self) -> list[Handshake]:
        with self._lock:
            return list(self._handshakes)

    def drop_connections(self, code: int | None = None, reason: str = "") -> None:
        """End every open connection: with a close frame of ``code``, else abruptly."""
        self._call(self._drop(code, reason))

    def start(self) -> LiveTailServer:
        """Bind the port and serve from a daemon thread. Returns self."""
        if self._loop is not None:
            raise RuntimeError("LiveTailServer was already started")
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(
            target=loop.run_forever, name="demo-live-tail", daemon=True
        )
        self._thread.start()
        try:
            self._call(self._listen())
        except BaseException:
            self.stop()
            raise
        logger.info("Demo live-tail server listening on port %d", self.port)
        return self

    def stop(self) -> None:
        """Close every connection and the listener. Safe to call more than once."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            self._call(self._close())
        except (concurrent.futures.TimeoutError, RuntimeError):
            logger.debug("closing the live-tail server timed out", exc_info=True)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=STOP_TIMEOUT)
            if not thread.is_alive():
                loop.close()
            self._loop = None
            self._thread = None
        logger.info("Demo live-tail server stopped")

    def _call(self, coroutine: Any) -> Any:
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout=STOP_TIMEOUT)

    # -- in the server thread ------------------------------------------------

    async def _listen(self) -> None:
        self._server = await serve(
            self._handle,
            self.host,
            self._requested_port,
            process_request=self._check_request,
            close_timeout=0.5,
            logger=logger,
        )
        sockets = self._server.sockets
        self._port = int(sockets[0].getsockname()[1])

    async def _close(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close(close_connections=True)
        try:
            async with asyncio.timeout(STOP_TIMEOUT / 2):
                await server.wait_closed()
        except TimeoutError:
            for connection in list(server.connections):
                connection.transport.abort()

    async def _drop(self, code: int | None, reason: str) -> None:
        if self._server is None:
            return
        for connection in list(self._server.connections):
            if code is None:
                connection.transport.abort()
            else:
                await connection.close(code, reason)

    def _check_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        session_id = _session_id(request.path)
        known = session_id is not None and self.session(session_id) is not None
        status = HTTPStatus.SWITCHING_PROTOCOLS if known else HTTPStatus.NOT_FOUND
        self._record(request.path, request.headers, int(status))
        if known:
            return None
        return connection.respond(HTTPStatus.NOT_FOUND, "live-tail session not found\n")

    def _record(self, path: str, headers: Headers, status: int) -> None:
        handshake = Handshake(
            path, {name.lower(): value for name, value in headers.raw_items()}, status
        )
        with self._lock:
            self._handshakes.append(handshake)
            del self._handshakes[:-MAX_RECORDED_HANDSHAKES]

    async def _handle(self, connection: ServerConnection) -> None:
        session_id = _session_id(connection.request.path if connection.request else "")
        session = self.session(session_id) if session_id else None
        if session is None:
            await connection.close(4404, "live-tail session not found")
            return
        try:
            while True:
                emission = session.generator.next()
                for event in emission.events:
                    if self.session(session.session_id) is None:
                        await connection.close(4404, "live-tail session ended")
                        return
                    if event_matches(event, session.filters, session.combination):
                        await connection.send(json.dumps(event))
                        session.sent += 1
                # Wait for the next group, but end at once if the client or
                # stop() closes the connection meanwhile.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(emission.delay):
                        await connection.wait_closed()
                        return
        except ConnectionClosed:
            return


def _session_id(path: str) -> str | None:
    path = path.split("?", 1)[0]
    if not path.startswith(WS_PATH):
        return None
    session_id = path[len(WS_PATH) :]
    return session_id if session_id and "/" not in session_id else None
