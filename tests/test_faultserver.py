"""Tests of the fault-injection server, driven by httpx over loopback."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.faultserver import FaultServer, Reply, envelope

SUCCESS = {"success": True, "errors": [], "messages": [], "result": {}}
ACCOUNT_ID = "0123456789abcdef0123456789abcdef"
HEARTBEAT = (
    f"/accounts/{ACCOUNT_ID}/workers/observability/telemetry/live-tail/heartbeat"
)


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as fault_server:
        yield fault_server


@pytest.fixture
def client(server: FaultServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=2.0) as http_client:
        yield http_client


def get_in_thread(url: str, errors: list[BaseException]) -> threading.Thread:
    """Start a GET in a thread and collect the exception it raises, if any."""

    def fetch() -> None:
        try:
            httpx.get(url, timeout=5.0)
        except Exception as error:
            errors.append(error)

    thread = threading.Thread(target=fetch, daemon=True)
    thread.start()
    return thread


# Plain replies and the queue.


def test_default_reply_is_success_envelope(
    server: FaultServer, client: httpx.Client
) -> None:
    response = client.post(HEARTBEAT, params={"a": "1"}, json={"beat": 1})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == SUCCESS
    assert server.base_url == f"http://127.0.0.1:{server.port}/client/v4"


def test_request_is_recorded(server: FaultServer, client: httpx.Client) -> None:
    before = time.monotonic()
    client.post(
        HEARTBEAT,
        params={"a": "1"},
        json={"beat": 1},
        headers={"Authorization": "Bearer token-1"},
    )

    [request] = server.requests
    assert request.method == "POST"
    assert request.version == "HTTP/1.1"
    assert request.path == "/client/v4" + HEARTBEAT
    assert request.query == "a=1"
    assert request.headers["authorization"] == "Bearer token-1"
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {"beat": 1}
    assert request.arrived_at >= before
    assert request.connection_id == 1


def test_chunked_request_body_is_decoded(
    server: FaultServer, client: httpx.Client
) -> None:
    client.post("/upload", content=iter([b"first,", b"second"]))

    [request] = server.requests
    assert request.headers["transfer-encoding"] == "chunked"
    assert request.body == b"first,second"


def test_queued_replies_come_in_order(
    server: FaultServer, client: httpx.Client
) -> None:
    server.enqueue(Reply(status=500))
    server.enqueue(Reply(status=503))

    assert client.get("/user").status_code == 500
    assert client.get("/user").status_code == 503
    assert client.get("/user").status_code == 200


def test_path_contains_selects_reply(server: FaultServer, client: httpx.Client) -> None:
    server.enqueue(Reply(status=404), path_contains="heartbeat")

    assert client.get("/user").status_code == 200
    assert client.post(HEARTBEAT, json={}).status_code == 404
    assert client.post(HEARTBEAT, json={}).status_code == 200


def test_repeat_serves_several_requests(
    server: FaultServer, client: httpx.Client
) -> None:
    server.enqueue(Reply(status=503, repeat=2))

    assert client.get("/user").status_code == 503
    assert client.get("/user").status_code == 503
    assert client.get("/user").status_code == 200


def test_set_default_replaces_success(
    server: FaultServer, client: httpx.Client
) -> None:
    server.set_default(Reply(status=500))
    server.enqueue(Reply(status=201))

    assert client.get("/user").status_code == 201
    assert client.get("/user").status_code == 500
    assert client.get("/user").status_code == 500


def test_status_headers_and_bodies(server: FaultServer, client: httpx.Client) -> None:
    server.enqueue(
        Reply(
            status=418,
            headers={"X-Test": "yes"},
            body="plain text",
            content_type="text/plain",
        )
    )
    server.enqueue(Reply(body=b"\x00\xff"))
    server.enqueue(Reply(body=envelope({"id": "abc"})))

    text = client.get("/a")
    assert text.status_code == 418
    assert text.reason_phrase == "I'm a Teapot"
    assert text.headers["x-test"] == "yes"
    assert text.headers["content-type"] == "text/plain"
    assert text.text == "plain text"
    assert client.get("/b").content == b"\x00\xff"
    assert client.get("/c").json()["result"] == {"id": "abc"}


def test_headers_override_content_length(
    server: FaultServer, client: httpx.Client
) -> None:
    server.enqueue(Reply(body=b"0123456789", headers={"content-length": "4"}))

    response = client.get("/a")

    assert response.content == b"0123"


def test_no_content_reply_has_no_body(
    server: FaultServer, client: httpx.Client
) -> None:
    server.enqueue(Reply(status=204))

    response = client.get("/a")

    assert response.status_code == 204
    assert response.content == b""
    assert client.get("/b").status_code == 200


# Helpers for common Cloudflare failures.


def test_envelope_error_helper(server: FaultServer, client: httpx.Client) -> None:
    server.enqueue(Reply.envelope_error(403, 10000, "Authentication error"))

    response = client.post(HEARTBEAT, json={})

    assert response.status_code == 403
    assert response.headers["cf-ray"] == "8f3a1c2b4d5e6f70-LHR"
    body = response.json()
    assert body["success"] is False
    assert body["errors"] == [{"code": 10000, "message": "Authentication error"}]
    assert body["result"] is None


def test_html_helper_sends_proxy_page(
    server: FaultServer, client: httpx.Client
) -> None:
    server.enqueue(Reply.html(502, "Bad Gateway"))

    response = client.post(HEARTBEAT, json={})

    assert response.status_code == 502
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<h1>502 Bad Gateway</h1>" in response.text
    with pytest.raises(json.JSONDecodeError):
        response.json()


@pytest.mark.parametrize("retry_after", ["7", "Wed, 21 Oct 2026 07:28:00 GMT"])
def test_rate_limited_helper(
    server: FaultServer, client: httpx.Client, retry_after: str
) -> None:
    server.enqueue(Reply.rate_limited(retry_after=retry_after))

    response = client.post(HEARTBEAT, json={})

    assert response.status_code == 429
    assert response.headers["retry-after"] == retry_after
    assert response.json()["success"] is False
    assert response.json()["errors"][0]["code"] == 971


# Slow replies.


def test_delay_holds_reply(server: FaultServer, client: httpx.Client) -> None:
    server.enqueue(Reply(delay=0.3))

    started = time.monotonic()
    response = client.get("/user")
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert elapsed >= 0.3


def test_delay_past_read_timeout(server: FaultServer, client: httpx.Client) -> None:
    server.enqueue(Reply(delay=1.0))

    with pytest.raises(httpx.ReadTimeout):
        client.get("/user", timeout=httpx.Timeout(2.0, read=0.2))


def test_trickle_beats_read_timeout(server: FaultServer, client: httpx.Client) -> None:
    body = b"0123456789"
    trickle = 0.05
    read_timeout = 0.25
    server.enqueue(Reply(body=body, content_type="text/plain", trickle=trickle))

    started = time.monotonic()
    response = client.get("/user", timeout=httpx.Timeout(2.0, read=read_timeout))
    elapsed = time.monotonic() - started

    assert response.content == body
    assert elapsed >= len(body) * trickle
    # The whole read outlasts the per-read timeout, which never fires because
    # every read gets a byte in time.
    assert elapsed > read_timeout


# Dropped connections.


def test_drop_before_headers(server: FaultServer, client: httpx.Client) -> None:
    server.enqueue(Reply(drop="before_headers"))

    with pytest.raises(httpx.RemoteProtocolError):
        client.post(HEARTBEAT, json={})
    assert len(server.requests) == 1


def test_drop_reset(server: FaultServer, client: httpx.Client) -> None:
    server.enqueue(Reply(drop="reset"))

    with pytest.raises(httpx.ReadError):
        client.post(HEARTBEAT, json={})
    assert len(server.requests) == 1


def test_drop_mid_body(server: FaultServer, client: httpx.Client) -> None:
    server.enqueue(Reply(drop="mid_body"))

    with pytest.raises(httpx.RemoteProtocolError, match="complete message body"):
        client.post(HEARTBEAT, json={})


def test_drop_truncated_json(server: FaultServer, client: httpx.Client) -> None:
    server.enqueue(Reply(drop="truncated_json"))

    response = client.post(HEARTBEAT, json={})

    assert response.status_code == 200
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.content == json.dumps(SUCCESS).encode()[: len(response.content)]
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_drop_after_delay(server: FaultServer, client: httpx.Client) -> None:
    server.enqueue(Reply(delay=0.2, drop="reset"))

    started = time.monotonic()
    with pytest.raises(httpx.ReadError):
        client.get("/user")
    assert time.monotonic() - started >= 0.2


# Keep-alive and connection closes.


def test_keep_alive_reuses_connection(
    server: FaultServer, client: httpx.Client
) -> None:
    client.get("/a")
    client.get("/b")

    first, second = server.requests
    assert first.connection_id == second.connection_id


def test_close_after_ends_connection(server: FaultServer, client: httpx.Client) -> None:
    server.enqueue(Reply(close_after=True))

    response = client.get("/a")
    client.get("/b")

    assert response.headers["connection"] == "close"
    first, second = server.requests
    assert first.connection_id != second.connection_id


def test_keepalive_then_close_when_idle(
    server: FaultServer, client: httpx.Client
) -> None:
    """httpx does not retry failed requests, but its pool detects the close.

    httpcore 1.0.9 treats an idle connection that turned readable as closed by
    the server, so it opens a new connection for the next request."""
    server.enqueue(Reply(keepalive_then_close=True))

    response = client.get("/a")
    time.sleep(0.2)
    second = client.get("/b")

    assert response.headers["connection"] == "keep-alive"
    assert second.status_code == 200
    first_request, second_request = server.requests
    assert first_request.connection_id != second_request.connection_id


def test_keepalive_then_close_in_flight(
    server: FaultServer, client: httpx.Client
) -> None:
    """A request sent on the pooled connection before the close gets no reply,
    and httpx raises instead of retrying it."""
    server.enqueue(Reply(keepalive_then_close=True, close_delay=0.5))

    client.get("/a")
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        client.get("/b")
    assert len(server.requests) == 1


# Restart and stop.


def test_restart_refuses_then_listens(
    server: FaultServer, client: httpx.Client
) -> None:
    port = server.port
    assert client.get("/a").status_code == 200

    started = time.monotonic()
    server.restart(down_for=0.3)
    with pytest.raises(httpx.ConnectError):
        client.get("/b")

    assert server.wait_listening(timeout=2.0)
    assert time.monotonic() - started >= 0.3
    assert server.port == port
    assert client.get("/c").status_code == 200


def test_restart_without_downtime(server: FaultServer, client: httpx.Client) -> None:
    port = server.port

    server.restart()

    assert server.port == port
    assert server.wait_listening(timeout=0.1)
    assert client.get("/a").status_code == 200


def test_restart_cuts_reply_in_progress(server: FaultServer) -> None:
    server.enqueue(Reply(body=b"x" * 50, trickle=0.1))
    errors: list[BaseException] = []
    thread = get_in_thread(server.base_url + "/slow", errors)
    assert server.wait_for_requests(1)

    server.restart()
    thread.join(timeout=2.0)

    assert not thread.is_alive()
    assert len(errors) == 1
    assert isinstance(errors[0], httpx.RemoteProtocolError)


def test_stop_is_prompt_during_trickle() -> None:
    server = FaultServer().start()
    server.enqueue(Reply(body=b"x" * 100, trickle=0.2))
    errors: list[BaseException] = []
    thread = get_in_thread(server.base_url + "/slow", errors)
    assert server.wait_for_requests(1)
    time.sleep(0.3)

    started = time.monotonic()
    server.stop()
    elapsed = time.monotonic() - started
    thread.join(timeout=2.0)

    assert elapsed < 0.5
    assert not thread.is_alive()
    assert len(errors) == 1
    assert isinstance(errors[0], httpx.RemoteProtocolError)


def test_context_exit_stops_listening() -> None:
    with FaultServer() as server:
        url = server.base_url

    with pytest.raises(httpx.ConnectError):
        httpx.get(url)


# Bookkeeping and input checks.


def test_wait_for_requests_times_out(server: FaultServer) -> None:
    started = time.monotonic()

    assert not server.wait_for_requests(1, timeout=0.1)
    assert time.monotonic() - started >= 0.1


def test_recorded_requests_are_bounded() -> None:
    with FaultServer(max_recorded_requests=2) as server:
        for name in ("a", "b", "c"):
            httpx.get(f"{server.base_url}/{name}")

        paths = [request.path for request in server.requests]
        assert paths == ["/client/v4/b", "/client/v4/c"]
        assert server.wait_for_requests(3, timeout=0.1)


def test_malformed_request_gets_400(server: FaultServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=2.0) as sock:
        sock.sendall(b"NONSENSE\r\n\r\n")
        reply = sock.recv(4096)

    assert reply.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert server.requests == []


def test_ipv6_loopback() -> None:
    if not socket.has_ipv6:
        pytest.skip("IPv6 is not available")
    try:
        server = FaultServer(host="::1").start()
    except OSError as error:
        pytest.skip(f"cannot bind ::1: {error}")
    with server:
        response = httpx.get(server.base_url + "/user")

    assert server.base_url.startswith("http://[::1]:")
    assert response.status_code == 200


def test_non_loopback_host_is_rejected() -> None:
    with pytest.raises(ValueError, match="not a loopback address"):
        FaultServer(host="192.0.2.1")


@pytest.mark.parametrize(
    "options",
    [
        {"drop": "explode"},
        {"repeat": 0},
        {"delay": -1},
        {"trickle": 0},
        {"status": 42},
        {"close_after": True, "keepalive_then_close": True},
        {"drop": "mid_body", "body": b"x"},
        {"headers": {"x-name": "caf\u00e9\u2603"}},
    ],
)
def test_invalid_reply_is_rejected(options: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Reply(**options)  # type: ignore[arg-type]
