"""Tests of the embedded demo Cloudflare API, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import http.client
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tui.demo import data
from tui.demo.server import (
    DEMO_EMAIL,
    DEMO_GLOBAL_KEY,
    DEMO_TOKEN,
    DemoServer,
    RecordedRequest,
    RequestLog,
)

TOKEN_HEADERS = {"Authorization": f"Bearer {DEMO_TOKEN}"}
GLOBAL_KEY_HEADERS = {"X-Auth-Email": DEMO_EMAIL, "X-Auth-Key": DEMO_GLOBAL_KEY}

HEX32 = re.compile(r"[0-9a-f]{32}")
ISO_MILLIS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
WORKER_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
CF_RAY = re.compile(r"[0-9a-f]{16}-DEMO")

UNKNOWN_ACCOUNT_ID = "0123456789abcdef0123456789abcdef"
ACME_ID = data.ACCOUNTS[0]["id"]
ACME_SCRIPT = data.SCRIPTS_BY_ACCOUNT_ID[ACME_ID][0]["id"]
LIVE_TAIL = "/accounts/{}/workers/observability/telemetry/live-tail"
HEARTBEAT = LIVE_TAIL + "/heartbeat"


@pytest.fixture(scope="module")
def shared_server() -> Iterator[DemoServer]:
    # One server for the read-only tests keeps the file fast. Its rate limit is
    # raised so that the request count of the whole module never reaches it.
    with DemoServer(latency=(0, 0), seed=1234, rate_limit=(100_000, 300.0)) as demo:
        yield demo


@pytest.fixture
def server(shared_server: DemoServer) -> DemoServer:
    shared_server.requests.clear()
    return shared_server


def make_client(server: DemoServer, headers: dict[str, str]) -> httpx.Client:
    # trust_env=False keeps proxy variables from routing loopback traffic away.
    return httpx.Client(
        base_url=server.base_url, headers=headers, timeout=5.0, trust_env=False
    )


@pytest.fixture(scope="module")
def client(shared_server: DemoServer) -> Iterator[httpx.Client]:
    with make_client(shared_server, TOKEN_HEADERS) as http:
        yield http


@pytest.fixture(scope="module")
def anonymous(shared_server: DemoServer) -> Iterator[httpx.Client]:
    with make_client(shared_server, {}) as http:
        yield http


def first_error(response: httpx.Response) -> dict[str, Any]:
    errors: list[dict[str, Any]] = response.json()["errors"]
    assert errors, f"expected an error in {response.text}"
    return errors[0]


def chain_codes(response: httpx.Response) -> list[int]:
    return [link["code"] for link in first_error(response).get("error_chain", [])]


def raw_exchange(server: DemoServer, request: bytes) -> bytes:
    """Send raw bytes and return everything the server sends before it closes."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


# Lifecycle -----------------------------------------------------------------


def test_start_is_fast_and_base_url_is_loopback() -> None:
    demo = DemoServer(latency=(0, 0))
    started = time.perf_counter()
    demo.start()
    elapsed = time.perf_counter() - started
    try:
        # The target is well under 100 ms. The bound leaves room for a busy runner.
        assert elapsed < 0.25
        assert demo.port > 0
        assert demo.base_url == f"http://127.0.0.1:{demo.port}/client/v4"
    finally:
        demo.stop()


def test_start_rejects_non_loopback_host() -> None:
    with pytest.raises(ValueError, match="loopback"):
        DemoServer(host="192.0.2.10")


def test_start_rejects_inverted_latency() -> None:
    with pytest.raises(ValueError, match="latency"):
        DemoServer(latency=(0.5, 0.1))


def test_base_url_before_start_raises() -> None:
    with pytest.raises(RuntimeError, match="start"):
        _ = DemoServer().base_url


def test_stop_twice_is_harmless() -> None:
    demo = DemoServer().start()
    demo.stop()
    demo.stop()
    with pytest.raises(RuntimeError, match="already started"):
        demo.start()


def test_stop_closes_idle_keep_alive_connection() -> None:
    server = DemoServer().start()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("GET", "/client/v4/user", headers=TOKEN_HEADERS)
    assert connection.getresponse().read()

    server.stop()

    # A connection thread that survived stop() would still reply here.
    with pytest.raises((http.client.HTTPException, OSError)):
        connection.request("GET", "/client/v4/user", headers=TOKEN_HEADERS)
        connection.getresponse().read()
    connection.close()


def wait_for_server_threads(port: int, timeout: float) -> list[str]:
    """Wait until the threads of the server on ``port`` exit, return those left."""
    prefix = f"demo-api-{port}"
    deadline = time.monotonic() + timeout
    while True:
        names = [t.name for t in threading.enumerate() if t.name.startswith(prefix)]
        if not names or time.monotonic() > deadline:
            return names
        time.sleep(0.01)


def test_stop_is_prompt_while_heartbeat_sleeps() -> None:
    demo = DemoServer(latency=(5.0, 5.0)).start()
    port = demo.port
    outcome: dict[str, Any] = {}

    def send_heartbeat() -> None:
        try:
            with make_client(demo, TOKEN_HEADERS) as http:
                url = HEARTBEAT.format(ACME_ID)
                outcome["response"] = http.post(url, json={"scriptId": ACME_SCRIPT})
        except httpx.HTTPError as error:
            outcome["error"] = error

    sender = threading.Thread(target=send_heartbeat)
    sender.start()
    deadline = time.monotonic() + 2
    while len(demo.requests) == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(demo.requests) == 1

    started = time.perf_counter()
    demo.stop()
    elapsed = time.perf_counter() - started
    sender.join(timeout=2)

    assert elapsed < 0.5
    assert not sender.is_alive()
    assert "response" not in outcome
    assert isinstance(outcome.get("error"), httpx.HTTPError)
    # The handler thread stops waiting too, instead of sleeping out the delay.
    assert wait_for_server_threads(port, timeout=0.5) == []


def test_keep_alive_reuses_one_connection(server: DemoServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        connection.request("GET", "/client/v4/user", headers=TOKEN_HEADERS)
        first = connection.getresponse()
        first.read()
        first_socket = connection.sock
        connection.request("GET", "/client/v4/accounts", headers=TOKEN_HEADERS)
        second = connection.getresponse()
        second.read()
        second_socket = connection.sock
    finally:
        connection.close()

    assert first.status == 200
    assert second.status == 200
    assert first_socket is not None
    # http.client drops the socket after a reply that closes the connection.
    assert second_socket is first_socket


# A shell starts background jobs with SIGINT ignored, their children inherit
# that, and Python then installs no Ctrl+C handler. The child restores it, as
# in a terminal, so that the test does not depend on how pytest was started.
RUN_DEMO_WITH_CTRL_C = (
    "import runpy, signal; "
    "signal.signal(signal.SIGINT, signal.default_int_handler); "
    "runpy.run_module('tui.demo', run_name='__main__')"
)


def test_main_prints_base_url_and_token() -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", RUN_DEMO_WITH_CTRL_C, "--port", "0"],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(2)]
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=10)
    finally:
        process.kill()

    assert re.search(r"http://127\.0\.0\.1:\d+/client/v4$", lines[0].strip())
    assert DEMO_TOKEN in lines[1]
    assert process.returncode == 0
    assert stderr == ""


# Envelope and headers ------------------------------------------------------


def test_reply_headers_match_cloudflare() -> None:
    with DemoServer(latency=(0, 0)) as demo, make_client(demo, TOKEN_HEADERS) as http:
        response = http.get("/user")
    assert response.headers["content-type"] == "application/json"
    assert CF_RAY.fullmatch(response.headers["cf-ray"])
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.headers["ratelimit-policy"] == '"default";q=1200;w=300'
    assert response.headers["ratelimit"] == '"default";r=1199;t=300'


def test_unknown_path_has_no_route(client: httpx.Client) -> None:
    response = client.get("/zones")
    body = response.json()
    assert response.status_code == 400
    assert body["success"] is False
    assert body["result"] is None
    assert first_error(response) == {"code": 7000, "message": "No route for that URI"}


def test_unknown_path_outside_prefix_has_no_route(server: DemoServer) -> None:
    with httpx.Client(trust_env=False) as http:
        response = http.get(server.base_url.removesuffix("/client/v4") + "/user")
    assert response.status_code == 400
    assert first_error(response)["code"] == 7000


def test_wrong_method_gets_405(client: httpx.Client) -> None:
    response = client.delete("/accounts")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert first_error(response)["code"] == 7001


# Authentication ------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "status", "code", "chain"),
    [
        ({}, 403, 9106, []),
        ({"X-Auth-Email": DEMO_EMAIL}, 403, 9106, []),
        ({"X-Auth-Key": DEMO_GLOBAL_KEY}, 403, 9106, []),
        ({"Authorization": "Bearer wrong-token"}, 401, 10000, []),
        ({"Authorization": f"Token {DEMO_TOKEN}"}, 400, 6003, [6111]),
        ({"Authorization": "Bearer"}, 400, 6003, [6111]),
        ({"Authorization": "Bearer two words"}, 400, 6003, [6111]),
        ({"X-Auth-Email": DEMO_EMAIL, "X-Auth-Key": "short"}, 400, 6003, [6103]),
        (
            {"X-Auth-Email": "no-at-sign", "X-Auth-Key": DEMO_GLOBAL_KEY},
            400,
            6003,
            [6102],
        ),
        ({"X-Auth-Email": DEMO_EMAIL, "X-Auth-Key": "1" * 37}, 403, 10000, []),
        (
            {"X-Auth-Email": "x@example.org", "X-Auth-Key": DEMO_GLOBAL_KEY},
            403,
            10000,
            [],
        ),
    ],
)
def test_bad_credentials_are_rejected(
    server: DemoServer,
    headers: dict[str, str],
    status: int,
    code: int,
    chain: list[int],
) -> None:
    with make_client(server, headers) as http:
        response = http.get("/user")
    assert response.status_code == status
    assert response.json()["success"] is False
    assert first_error(response)["code"] == code
    assert chain_codes(response) == chain


def test_missing_headers_message(anonymous: httpx.Client) -> None:
    message = first_error(anonymous.get("/accounts"))["message"]
    assert message == "Missing X-Auth-Key, X-Auth-Email or Authorization headers"


def test_global_key_is_accepted(server: DemoServer) -> None:
    with make_client(server, GLOBAL_KEY_HEADERS) as http:
        response = http.get("/user")
    assert response.status_code == 200
    assert response.json()["result"]["email"] == DEMO_EMAIL


def test_email_is_case_insensitive(server: DemoServer) -> None:
    headers = {"X-Auth-Email": DEMO_EMAIL.upper(), "X-Auth-Key": DEMO_GLOBAL_KEY}
    with make_client(server, headers) as http:
        assert http.get("/user").status_code == 200


def test_user_details(client: httpx.Client) -> None:
    response = client.get("/user")
    user = response.json()["result"]
    assert response.status_code == 200
    assert user["email"] == DEMO_EMAIL
    assert HEX32.fullmatch(user["id"])


def test_verify_user_token(client: httpx.Client) -> None:
    response = client.get("/user/tokens/verify")
    body = response.json()
    assert response.status_code == 200
    assert body["success"] is True
    assert body["errors"] == []
    assert HEX32.fullmatch(body["result"]["id"])
    assert body["result"]["status"] == "active"
    assert "expires_on" in body["result"]
    assert body["messages"] == [
        {"code": 10000, "message": "This API Token is valid and active"}
    ]


def test_verify_user_token_rejects_global_key(server: DemoServer) -> None:
    with make_client(server, GLOBAL_KEY_HEADERS) as http:
        response = http.get("/user/tokens/verify")
    assert response.status_code == 403
    assert first_error(response)["code"] == 9109


def test_verify_account_token(client: httpx.Client) -> None:
    response = client.get(f"/accounts/{ACME_ID}/tokens/verify")
    assert response.status_code == 200
    assert response.json()["result"]["status"] == "active"


def test_verify_account_token_unknown_account(client: httpx.Client) -> None:
    response = client.get(f"/accounts/{UNKNOWN_ACCOUNT_ID}/tokens/verify")
    assert response.status_code == 404
    assert first_error(response)["code"] == 7003


# Accounts and memberships ---------------------------------------------------


def test_accounts_two_pages_hold_all_27(client: httpx.Client) -> None:
    first = client.get("/accounts").json()
    second = client.get("/accounts", params={"page": 2}).json()
    ids = [a["id"] for a in first["result"]] + [a["id"] for a in second["result"]]

    assert len(first["result"]) == 20
    assert len(second["result"]) == 7
    assert len(set(ids)) == 27
    assert first["result_info"] == {
        "page": 1,
        "per_page": 20,
        "count": 20,
        "total_count": 27,
        "total_pages": 2,
    }
    assert second["result_info"]["count"] == 7


def test_accounts_have_realistic_fields(client: httpx.Client) -> None:
    accounts = client.get("/accounts", params={"per_page": 50}).json()["result"]
    names = {account["name"] for account in accounts}
    assert len(accounts) == 27
    assert {"Acme Robotics", "Personal", "Staging – Globex"} <= names
    for account in accounts:
        assert HEX32.fullmatch(account["id"]), account
        assert account["type"] in ("standard", "enterprise"), account
        assert isinstance(account["settings"], dict), account
        assert account["created_on"].endswith("Z"), account


def test_account_ids_are_stable() -> None:
    # The id derivation must not change, or saved app settings lose their account.
    assert ACME_ID == "e597f47e5c73955faad327349a13e451"


def test_accounts_page_past_end_is_empty(client: httpx.Client) -> None:
    body = client.get("/accounts", params={"page": 3}).json()
    assert body["success"] is True
    assert body["result"] == []
    assert body["result_info"]["count"] == 0
    assert body["result_info"]["total_count"] == 27


@pytest.mark.parametrize("per_page", [5, 50])
def test_per_page_bounds_are_accepted(client: httpx.Client, per_page: int) -> None:
    response = client.get("/accounts", params={"per_page": per_page})
    assert response.status_code == 200
    assert response.json()["result_info"]["per_page"] == per_page
    assert len(response.json()["result"]) == min(per_page, 27)


@pytest.mark.parametrize("per_page", ["4", "51", "0", "-5", "ten", ""])
def test_per_page_out_of_range_is_rejected(client: httpx.Client, per_page: str) -> None:
    response = client.get("/accounts", params={"per_page": per_page})
    assert response.status_code == 400
    assert first_error(response)["code"] == 6008
    assert chain_codes(response) == [11000]
    assert "per_page" in first_error(response)["error_chain"][0]["message"]


@pytest.mark.parametrize("page", ["0", "-1", "x"])
def test_invalid_page_is_rejected(client: httpx.Client, page: str) -> None:
    response = client.get("/accounts", params={"page": page})
    assert response.status_code == 400
    assert first_error(response)["code"] == 6008


def test_accounts_name_filter_and_direction(client: httpx.Client) -> None:
    staging = client.get("/accounts", params={"name": "staging"}).json()["result"]
    descending = client.get("/accounts", params={"direction": "desc"}).json()
    names = [a["name"] for a in descending["result"]]
    assert [a["name"] for a in staging] == [
        "Staging – Globex",
        "Staging – Acme Robotics",
    ]
    assert names == sorted(names, key=str.lower, reverse=True)


def test_memberships_page_like_accounts(client: httpx.Client) -> None:
    first = client.get("/memberships", params={"per_page": 20}).json()
    second = client.get("/memberships", params={"page": 2}).json()
    memberships = first["result"] + second["result"]
    account_ids = {m["account"]["id"] for m in memberships}
    assert first["result_info"]["total_count"] == 27
    assert len(memberships) == 27
    assert account_ids == set(data.ACCOUNTS_BY_ID)
    assert all(m["status"] == "accepted" for m in memberships)
    assert all(HEX32.fullmatch(m["id"]) for m in memberships)


def test_memberships_reject_bad_per_page(client: httpx.Client) -> None:
    response = client.get("/memberships", params={"per_page": 100})
    assert response.status_code == 400
    assert first_error(response)["code"] == 6008


# Workers scripts ------------------------------------------------------------


def test_scripts_of_each_account(client: httpx.Client) -> None:
    for account in data.ACCOUNTS:
        response = client.get(f"/accounts/{account['id']}/workers/scripts")
        scripts = response.json()["result"]
        assert response.status_code == 200, account["name"]
        assert "result_info" not in response.json()
        if account["name"] == data.EMPTY_ACCOUNT_NAME:
            assert scripts == []
            continue
        assert 3 <= len(scripts) <= 9, account["name"]
        for script in scripts:
            assert WORKER_NAME.fullmatch(script["id"]), script
            assert ISO_MILLIS.fullmatch(script["created_on"]), script
            assert ISO_MILLIS.fullmatch(script["modified_on"]), script
            assert script["modified_on"] >= script["created_on"], script
            assert script["handlers"], script
            assert script["usage_model"] in ("bundled", "unbound"), script
            assert re.fullmatch(r"\d{4}-\d\d-\d\d", script["compatibility_date"])
            assert re.fullmatch(r"[0-9a-f]{64}", script["etag"]), script


def test_exactly_one_account_has_no_scripts() -> None:
    empty = [i for i, scripts in data.SCRIPTS_BY_ACCOUNT_ID.items() if not scripts]
    assert empty == [data.ACCOUNTS[-1]["id"]]
    assert data.ACCOUNTS[-1]["name"] == "Dev Sandbox"


@pytest.mark.parametrize("account_id", [UNKNOWN_ACCOUNT_ID, "not-an-id", "ABCDEF" * 5])
def test_scripts_of_unknown_account(client: httpx.Client, account_id: str) -> None:
    response = client.get(f"/accounts/{account_id}/workers/scripts")
    assert response.status_code == 404
    assert first_error(response) == {
        "code": 7003,
        "message": f"Could not route to /accounts/{account_id}/workers/scripts, "
        "perhaps your object identifier is invalid?",
    }


# Live tail and heartbeat -----------------------------------------------------


def test_live_tail_returns_ws_url(server: DemoServer, client: httpx.Client) -> None:
    body = {
        "scriptId": ACME_SCRIPT,
        "filters": [
            {
                "key": "$workers.outcome",
                "operation": "eq",
                "type": "string",
                "value": "exception",
            }
        ],
        "filterCombination": "and",
    }
    response = client.post(LIVE_TAIL.format(ACME_ID), json=body)
    reply = response.json()
    # The live-tail WebSocket server listens on a port of its own.
    assert server.live_tail is not None
    prefix = f"ws://127.0.0.1:{server.live_tail.port}/client/v4/live-tail/ws/"
    assert response.status_code == 200
    assert reply["success"] is True
    assert reply["errors"] == []
    assert reply["messages"] == [{"message": "Successful request"}]
    assert reply["result"]["wsUrl"].startswith(prefix)
    assert HEX32.fullmatch(reply["result"]["wsUrl"].removeprefix(prefix))


def test_live_tail_ids_differ_per_call(client: httpx.Client) -> None:
    url = LIVE_TAIL.format(ACME_ID)
    first = client.post(url, json={"scriptId": ACME_SCRIPT}).json()["result"]["wsUrl"]
    second = client.post(url, json={"scriptId": ACME_SCRIPT}).json()["result"]["wsUrl"]
    assert first != second


def test_heartbeat_succeeds(client: httpx.Client) -> None:
    response = client.post(HEARTBEAT.format(ACME_ID), json={"scriptId": ACME_SCRIPT})
    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "errors": [],
        "messages": [{"message": "Successful request"}],
        "result": {},
    }


def test_heartbeat_waits_for_latency() -> None:
    with (
        DemoServer(latency=(0.2, 0.2)) as demo,
        make_client(demo, TOKEN_HEADERS) as http,
    ):
        started = time.perf_counter()
        response = http.post(HEARTBEAT.format(ACME_ID), json={"scriptId": ACME_SCRIPT})
        elapsed = time.perf_counter() - started
    assert response.status_code == 200
    assert elapsed >= 0.2


@pytest.mark.parametrize("path", [LIVE_TAIL, HEARTBEAT])
def test_unknown_script_gets_10007(client: httpx.Client, path: str) -> None:
    response = client.post(path.format(ACME_ID), json={"scriptId": "no-such-worker"})
    assert response.status_code == 404
    assert first_error(response) == {
        "code": 10007,
        "message": "This Worker does not exist on your account.",
    }


@pytest.mark.parametrize("path", [LIVE_TAIL, HEARTBEAT])
def test_unknown_account_gets_7003(client: httpx.Client, path: str) -> None:
    url = path.format(UNKNOWN_ACCOUNT_ID)
    response = client.post(url, json={"scriptId": ACME_SCRIPT})
    assert response.status_code == 404
    assert first_error(response)["code"] == 7003
    assert url in first_error(response)["message"]


@pytest.mark.parametrize("path", [LIVE_TAIL, HEARTBEAT])
@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", 6007),
        (b"{not json", 6007),
        (b"\xff\xfe", 6007),
        (b"[]", 6008),
        (b"{}", 6008),
        (b'{"scriptId": 42}', 6008),
    ],
)
def test_invalid_body_gets_400(
    client: httpx.Client, path: str, content: bytes, code: int
) -> None:
    response = client.post(path.format(ACME_ID), content=content)
    assert response.status_code == 400
    assert first_error(response)["code"] == code


@pytest.mark.parametrize(
    "options",
    [
        {"filterCombination": "xor"},
        {"filters": "outcome=exception"},
        {"filters": [{"key": "a", "operation": "like", "type": "string"}]},
        {"filters": [{"operation": "eq", "type": "string"}]},
        {"filters": [{"kind": "group", "filterCombination": "and", "filters": []}]},
    ],
)
def test_live_tail_rejects_bad_filters(
    client: httpx.Client, options: dict[str, Any]
) -> None:
    body = {"scriptId": ACME_SCRIPT, **options}
    response = client.post(LIVE_TAIL.format(ACME_ID), json=body)
    assert response.status_code == 400
    assert first_error(response)["code"] == 6008


def test_live_tail_rejects_filters_nested_too_deep(client: httpx.Client) -> None:
    leaf = {"key": "$metadata.level", "operation": "eq", "type": "string", "value": "x"}
    node: dict[str, Any] = leaf
    for _ in range(5):
        node = {"kind": "group", "filterCombination": "or", "filters": [node]}
    body = {"scriptId": ACME_SCRIPT, "filters": [node]}
    response = client.post(LIVE_TAIL.format(ACME_ID), json=body)
    assert response.status_code == 400
    assert "nested" in first_error(response)["error_chain"][0]["message"]


# Rate limit ---------------------------------------------------------------


def test_rate_limit_returns_429_with_retry_after() -> None:
    with DemoServer(latency=(0, 0), rate_limit=(3, 60.0)) as demo:
        with make_client(demo, TOKEN_HEADERS) as http:
            statuses = [http.get("/user").status_code for _ in range(3)]
            limited = http.get("/user")
        with make_client(demo, GLOBAL_KEY_HEADERS) as other:
            other_status = other.get("/user").status_code

    assert statuses == [200, 200, 200]
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert first_error(limited)["code"] == 10000
    assert first_error(limited)["message"].startswith("Rate limited")
    assert limited.headers["ratelimit"].startswith('"default";r=0;')
    # The limit counts per credential, so the global key still has its quota.
    assert other_status == 200


def test_rate_limit_frees_slots_after_window() -> None:
    with DemoServer(latency=(0, 0), rate_limit=(1, 0.2)) as demo:
        with make_client(demo, TOKEN_HEADERS) as http:
            first = http.get("/user").status_code
            second = http.get("/user").status_code
            time.sleep(0.25)
            third = http.get("/user").status_code
    assert first == 200
    assert second == 429
    assert third == 200


def test_failed_auth_does_not_use_quota() -> None:
    with DemoServer(latency=(0, 0), rate_limit=(1, 60.0)) as demo:
        with make_client(demo, {"Authorization": "Bearer wrong"}) as bad:
            bad_statuses = [bad.get("/user").status_code for _ in range(3)]
        with make_client(demo, TOKEN_HEADERS) as http:
            status = http.get("/user").status_code
    assert bad_statuses == [401, 401, 401]
    assert status == 200


# Recorded requests -----------------------------------------------------------


def test_requests_are_recorded(server: DemoServer, client: httpx.Client) -> None:
    client.get("/accounts", params={"page": "2", "per_page": "5"})
    client.post(HEARTBEAT.format(ACME_ID), json={"scriptId": ACME_SCRIPT})

    get_request, post_request = server.requests
    assert get_request.method == "GET"
    assert get_request.path == "/client/v4/accounts"
    assert get_request.query == {"page": ["2"], "per_page": ["5"]}
    assert get_request.headers["authorization"] == f"Bearer {DEMO_TOKEN}"
    assert get_request.body == b""
    assert post_request.method == "POST"
    assert post_request.path == "/client/v4" + HEARTBEAT.format(ACME_ID)
    assert post_request.json() == {"scriptId": ACME_SCRIPT}
    assert post_request.headers["content-type"] == "application/json"


def test_rejected_requests_are_recorded(
    server: DemoServer, anonymous: httpx.Client
) -> None:
    anonymous.get("/nowhere")
    assert len(server.requests) == 1
    assert server.requests[-1].path == "/client/v4/nowhere"


def test_request_log_keeps_latest() -> None:
    log = RequestLog(max_size=3)
    for index in range(5):
        log.append(RecordedRequest("GET", f"/{index}", {}, {}, b""))
    assert [request.path for request in log] == ["/2", "/3", "/4"]
    assert len(log) == 3
    log.clear()
    assert len(log) == 0


# Malformed requests ----------------------------------------------------------


def test_oversized_body_gets_413(server: DemoServer, client: httpx.Client) -> None:
    response = client.post(HEARTBEAT.format(ACME_ID), content=b"x" * (64 * 1024 + 1))
    assert response.status_code == 413
    assert response.headers["connection"] == "close"
    assert first_error(response)["message"] == "Request body too large"
    assert client.get("/user").status_code == 200


@pytest.mark.parametrize("length", [b"abc", b"-1", b"1e3"])
def test_bad_content_length_gets_400(server: DemoServer, length: bytes) -> None:
    request = (
        b"POST /client/v4/user HTTP/1.1\r\nHost: demo\r\nContent-Length: "
        + length
        + b"\r\n\r\n{}"
    )
    reply = raw_exchange(server, request)
    assert reply.startswith(b"HTTP/1.1 400 ")
    assert b'"code": 6003' in reply
    assert b"Content-Length" in reply


def test_truncated_body_gets_400(server: DemoServer) -> None:
    request = (
        b"POST /client/v4/user HTTP/1.1\r\nHost: demo\r\nContent-Length: 10\r\n\r\n{}"
    )
    reply = raw_exchange(server, request)
    assert reply.startswith(b"HTTP/1.1 400 ")
    assert b"Incomplete request body" in reply


def test_garbage_request_line_gets_json_400(server: DemoServer) -> None:
    reply = raw_exchange(server, b"NOT HTTP AT ALL\r\n\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"Content-Type: application/json" in head
    assert body.startswith(b'{"success": false')


def test_malformed_requests_print_nothing(
    server: DemoServer, capfd: pytest.CaptureFixture[str]
) -> None:
    raw_exchange(server, b"NOT HTTP AT ALL\r\n\r\n")
    raw_exchange(server, b"POST /client/v4/user HTTP/1.1\r\nContent-Length: x\r\n\r\n")
    with make_client(server, TOKEN_HEADERS) as http:
        http.post(HEARTBEAT.format(ACME_ID), content=b"{")
    # A reset mid-request must not print a traceback either.
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"POST /client/v4/user HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
    with make_client(server, TOKEN_HEADERS) as http:
        assert http.get("/user").status_code == 200
    captured = capfd.readouterr()
    assert captured.err == ""
    assert captured.out == ""


def test_seed_makes_ray_ids_repeatable() -> None:
    rays = []
    for _ in range(2):
        with DemoServer(latency=(0, 0), seed=7) as demo:
            with make_client(demo, TOKEN_HEADERS) as http:
                rays.append([http.get("/user").headers["cf-ray"] for _ in range(3)])
    assert rays[0] == rays[1]
