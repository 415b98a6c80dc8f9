"""A loopback HTTP/1.1 server that accepts every live-tail call and timestamps it.

It replies to each request at once with a success envelope shaped like the
demo API's: the token verification, the live-tail preparation with its
``wsUrl``, and the heartbeat. It records each request's path and the
time.monotonic() at which its head had been read. Both sides of a benchmark
read CLOCK_MONOTONIC, so an arrival time compares directly with a spawn time
taken in this process.

The benchmarks use this server rather than tests/faultserver.py because
every request to that one took about 40 ms longer on the benchmark machine
(44 ms per heartbeat, against 1 ms from the demo API). It writes a reply's
head and body separately; why that costs 40 ms was not looked into.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from dataclasses import dataclass

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 64 * 1024
MAX_RECORDED = 100_000


@dataclass(frozen=True)
class Arrival:
    """One request: its method, path without the query, and monotonic arrival time."""

    method: str
    path: str
    arrived_at: float


def _result_for(path: str) -> tuple[object, list[dict[str, object]]]:
    if path.endswith("/tokens/verify"):
        return {"id": "0" * 32, "status": "active"}, [
            {"code": 10000, "message": "This API Token is valid and active"}
        ]
    if path.endswith("/live-tail"):
        return {"wsUrl": "ws://127.0.0.1:9/live-tail/ws/bench"}, [
            {"message": "Successful request"}
        ]
    return {}, [{"message": "Successful request"}]


def _reply_bytes(path: str) -> bytes:
    result, messages = _result_for(path)
    body = json.dumps(
        {"success": True, "errors": [], "messages": messages, "result": result}
    ).encode()
    head = (
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "cf-ray: 0000000000000000-BEN\r\n"
        "\r\n"
    ).encode()
    return head + body


class BeatServer:
    """The timestamping server, run on its own event loop in a daemon thread."""

    def __init__(self, host: str = "127.0.0.1"):
        if host not in ("127.0.0.1", "::1"):
            raise ValueError(f"host {host!r} is not loopback: use 127.0.0.1 or ::1")
        self.host = host
        self.port = 0
        self._lock = threading.Lock()
        self._arrivals: list[Arrival] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/client/v4"

    def arrivals(self, path_suffix: str = "") -> list[Arrival]:
        """Return the requests so far whose path ends with ``path_suffix``."""
        with self._lock:
            return [a for a in self._arrivals if a.path.endswith(path_suffix)]

    def start(self) -> BeatServer:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(
            target=loop.run_forever, name="beatserver", daemon=True
        )
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), loop)
        future.result(timeout=5)
        return self

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._close(), loop)
        try:
            future.result(timeout=5)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=5)
            loop.close()
            self._loop = None

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            # NOTE: Server.close() leaves accepted connections open on 3.11;
            # they end when their clients go, or with the daemon thread.

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                arrived_at = time.monotonic()
                if len(head) > MAX_HEAD_BYTES:
                    break
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                method, target, _ = request_line.split(" ", 2)
                length = 0
                for line in header_lines:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                if not 0 <= length <= MAX_BODY_BYTES:
                    break
                if length:
                    await reader.readexactly(length)
                path = target.split("?", 1)[0]
                with self._lock:
                    if len(self._arrivals) < MAX_RECORDED:
                        self._arrivals.append(Arrival(method, path, arrived_at))
                writer.write(_reply_bytes(path))
                await writer.drain()
        except (
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ConnectionError,
            ValueError,
        ):
            pass
        finally:
            writer.close()

    def __enter__(self) -> BeatServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
