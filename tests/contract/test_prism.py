"""Contract tests: the app's requests and reply handling against Prism.

Prism serves a patched copy of Cloudflare's OpenAPI document (see tests/prism.py)
and validates every request against it. Each test checks what the app sent, as
Prism logged it, and what the app made of Prism's documented example replies.
Expected data comes from Prism's own replies, so it follows the document.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest

from tests.prism import REPO_ROOT, LoggedRequest, PrismServer
from tui import envelope
from tui.api import CloudflareClient
from tui.credentials import Credential

# Account ids are 32 lowercase hex characters. This one differs from the
# document's example id, so a request that carries it came from the app.
ACCOUNT_ID = "5f0c1d8e2b7a4c9e8d3f6a1b0c2e4d7f"
SCRIPT = "contract-test-worker"
# Made-up credentials: Prism's debug log records every request header.
API_TOKEN = "contract-test-api-token"
EMAIL = "contract-test@example.invalid"
GLOBAL_KEY = "contract-test-global-key"


class CredentialCase(NamedTuple):
    """One kind of credential, in every form the tests need it."""

    # Environment variables that give the CLI this credential.
    env: dict[str, str]
    credential: Credential
    # Headers that every request must carry, in the API's spelling.
    headers: dict[str, str]
    # The call that checks this kind of credential.
    verify_path: str


TOKEN_CASE = CredentialCase(
    env={"CLOUDFLARE_API_TOKEN": API_TOKEN},
    credential=Credential.api_token(API_TOKEN, source="test"),
    headers={"Authorization": f"Bearer {API_TOKEN}"},
    verify_path="/user/tokens/verify",
)
GLOBAL_KEY_CASE = CredentialCase(
    env={"CLOUDFLARE_API_KEY": GLOBAL_KEY, "CLOUDFLARE_EMAIL": EMAIL},
    credential=Credential.global_key(EMAIL, GLOBAL_KEY, source="test"),
    headers={"X-Auth-Email": EMAIL, "X-Auth-Key": GLOBAL_KEY},
    verify_path="/user",
)
CREDENTIAL_CASES = [
    pytest.param(TOKEN_CASE, id="api-token"),
    pytest.param(GLOBAL_KEY_CASE, id="global-key"),
]
AUTH_HEADER_NAMES = {"authorization", "x-auth-email", "x-auth-key"}

LIVE_TAIL_PATH = f"/accounts/{ACCOUNT_ID}/workers/observability/telemetry/live-tail"
HEARTBEAT_PATH = f"{LIVE_TAIL_PATH}/heartbeat"
SCRIPTS_PATH = f"/accounts/{ACCOUNT_ID}/workers/scripts"

HEARTBEAT_KEYS = {
    "time",
    "account_id",
    "script",
    "ok",
    "http_status",
    "latency_ms",
    "outcome",
    "message",
}
CLI_TIMEOUT_S = 30.0


# --- Helpers ----------------------------------------------------------------


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep in-process app code away from the developer's files and credentials."""
    for name in list(os.environ):
        if name.startswith("CLOUDFLARE_"):
            monkeypatch.delenv(name)
    for name in ("CONFIG", "DATA", "STATE", "CACHE"):
        monkeypatch.setenv(f"XDG_{name}_HOME", str(tmp_path / f"xdg-{name.lower()}"))


def run_cli(
    prism: PrismServer,
    tmp_path: Path,
    credential_env: dict[str, str],
    *args: str,
) -> subprocess.CompletedProcess[str]:
    """Run `python -m tui` against Prism with a fresh, explicit environment.

    Only PATH is inherited: no CLOUDFLARE_* variable, proxy setting or home
    directory of the developer reaches the app. The app runs in tmp_path, where
    it finds no wrangler configuration, and imports `tui` from this checkout.
    """
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(REPO_ROOT),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
        "XDG_STATE_HOME": str(tmp_path / "xdg-state"),
        "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"),
        **credential_env,
    }
    command = [sys.executable, "-m", "tui", *args, "--base-url", prism.base_url]
    return subprocess.run(
        command,
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )


def json_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def fetch_reply(
    prism: PrismServer,
    method: str,
    path: str,
    headers: dict[str, str],
    json_body: Any = None,
) -> httpx.Response:
    """Send one request straight to Prism, bypassing the app."""
    with httpx.Client(base_url=prism.base_url, trust_env=False) as client:
        return client.request(method, path, headers=headers, json=json_body)


def logged_requests(prism: PrismServer, mark: int) -> list[LoggedRequest]:
    prism.sync_log()
    return prism.requests(since=mark)


def method_and_path(requests: list[LoggedRequest]) -> list[tuple[str, str]]:
    return [(request.method, request.path) for request in requests]


def assert_valid_requests(requests: list[LoggedRequest]) -> None:
    for request in requests:
        where = f"{request.method} {request.path}"
        assert request.request_violations == [], where
        assert request.terminated_error is None, where


def assert_credential_headers(
    requests: list[LoggedRequest], case: CredentialCase
) -> None:
    """Check that every request carries the given credential and no other."""
    expected = {name.lower(): value for name, value in case.headers.items()}
    for request in requests:
        where = f"{request.method} {request.path}"
        for name, value in expected.items():
            assert request.headers.get(name) == value, where
        for name in AUTH_HEADER_NAMES - expected.keys():
            assert name not in request.headers, where


def parse_utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- Heartbeats through the CLI ---------------------------------------------


@pytest.mark.parametrize("case", CREDENTIAL_CASES)
def test_headless_heartbeats_pass_validation(
    prism: PrismServer, prism_mark: int, tmp_path: Path, case: CredentialCase
) -> None:
    result = run_cli(
        prism,
        tmp_path,
        case.env,
        "--headless",
        "--account",
        ACCOUNT_ID,
        "--script",
        SCRIPT,
        "--interval",
        "1",
        "--count",
        "2",
    )
    assert result.returncode == 0, result.stderr

    requests = logged_requests(prism, prism_mark)
    assert method_and_path(requests) == [
        ("GET", case.verify_path),
        ("POST", LIVE_TAIL_PATH),
        ("POST", HEARTBEAT_PATH),
        ("POST", HEARTBEAT_PATH),
    ]
    assert_valid_requests(requests)
    assert_credential_headers(requests, case)
    for request in requests[1:]:
        assert request.json_body() == {"scriptId": SCRIPT}, request.path
        assert request.headers.get("content-type") == "application/json"

    lines = json_lines(result.stdout)
    assert len(lines) == 2, result.stdout
    for line in lines:
        assert HEARTBEAT_KEYS <= line.keys(), line
        assert parse_utc(line["time"]).utcoffset() == dt.timedelta(0), line
        assert line["account_id"] == ACCOUNT_ID
        assert line["script"] == SCRIPT
        assert line["ok"] is True, line
        assert line["http_status"] == 200
        assert isinstance(line["latency_ms"], int | float)
        assert line["latency_ms"] >= 0
        assert line["outcome"] == "ok"
        assert isinstance(line["message"], str)
    gap = parse_utc(lines[1]["time"]) - parse_utc(lines[0]["time"])
    # The CLI ran with --interval 1. The margin allows for timer jitter.
    assert gap >= dt.timedelta(seconds=0.9), lines


async def test_heartbeat_example_with_errors_entry_is_ok(
    prism: PrismServer, prism_mark: int
) -> None:
    reply = fetch_reply(
        prism, "POST", HEARTBEAT_PATH, TOKEN_CASE.headers, {"scriptId": SCRIPT}
    ).json()
    # The documented reply reports success and still lists an error entry.
    assert reply["success"] is True
    assert reply["errors"] != []
    mark = prism.log_mark()

    async with CloudflareClient(prism.base_url, TOKEN_CASE.credential) as client:
        result = await client.heartbeat(ACCOUNT_ID, SCRIPT)

    assert result.outcome == "ok", result.message
    assert result.ok is True
    assert result.http_status == 200
    assert result.latency_ms >= 0
    assert isinstance(result.message, str)
    requests = logged_requests(prism, mark)
    assert method_and_path(requests) == [("POST", HEARTBEAT_PATH)]
    assert requests[0].json_body() == {"scriptId": SCRIPT}
    assert_valid_requests(requests)
    assert_credential_headers(requests, TOKEN_CASE)


# --- Listing accounts and Workers through the CLI ---------------------------


@pytest.mark.parametrize("case", CREDENTIAL_CASES)
def test_list_accounts_prints_documented_accounts(
    prism: PrismServer, prism_mark: int, tmp_path: Path, case: CredentialCase
) -> None:
    documented = fetch_reply(prism, "GET", "/accounts", case.headers).json()
    expected = [
        {"id": item["id"], "name": item["name"]} for item in documented["result"]
    ]
    mark = prism.log_mark()

    result = run_cli(prism, tmp_path, case.env, "--list-accounts")

    assert result.returncode == 0, result.stderr
    assert json_lines(result.stdout) == expected
    requests = logged_requests(prism, mark)
    assert requests != []
    assert set(method_and_path(requests)) == {("GET", "/accounts")}
    assert_valid_requests(requests)
    assert_credential_headers(requests, case)


def test_list_scripts_skips_items_without_id(
    prism: PrismServer, prism_mark: int, tmp_path: Path
) -> None:
    documented = fetch_reply(prism, "GET", SCRIPTS_PATH, TOKEN_CASE.headers).json()
    items = documented["result"]
    # Prism's static example of this list contains an item with `routes` and no id.
    assert any("id" not in item for item in items), items
    expected = [
        {"id": item["id"], "name": item["id"], "modified_on": item.get("modified_on")}
        for item in items
        if item.get("id")
    ]
    mark = prism.log_mark()

    result = run_cli(
        prism, tmp_path, TOKEN_CASE.env, "--list-scripts", "--account", ACCOUNT_ID
    )

    assert result.returncode == 0, result.stderr
    assert json_lines(result.stdout) == expected
    requests = logged_requests(prism, mark)
    assert method_and_path(requests) == [("GET", SCRIPTS_PATH)]
    assert_valid_requests(requests)
    assert_credential_headers(requests, TOKEN_CASE)


# --- The Python client --------------------------------------------------------


@pytest.mark.parametrize("case", CREDENTIAL_CASES)
async def test_verify_passes_validation(
    prism: PrismServer, prism_mark: int, case: CredentialCase
) -> None:
    async with CloudflareClient(prism.base_url, case.credential) as client:
        await client.verify()

    requests = logged_requests(prism, prism_mark)
    assert method_and_path(requests) == [("GET", case.verify_path)]
    assert_valid_requests(requests)
    assert_credential_headers(requests, case)


async def test_prepare_live_tail_returns_loopback_ws_url(
    prism: PrismServer, prism_mark: int
) -> None:
    async with CloudflareClient(prism.base_url, TOKEN_CASE.credential) as client:
        result = await client.prepare_live_tail(ACCOUNT_ID, SCRIPT)

    assert result.ok is True, result.message
    assert result.extra.get("ws_url") == prism.ws_url
    requests = logged_requests(prism, prism_mark)
    assert method_and_path(requests) == [("POST", LIVE_TAIL_PATH)]
    assert requests[0].json_body() == {"scriptId": SCRIPT}
    assert_valid_requests(requests)
    assert_credential_headers(requests, TOKEN_CASE)


# --- The documented 401 reply -----------------------------------------------


def test_documented_401_reply_is_auth_failure(
    prism: PrismServer, prism_mark: int
) -> None:
    # The app cannot send Prism's `Prefer` header, so ask Prism directly.
    reply = fetch_reply(
        prism,
        "POST",
        HEARTBEAT_PATH,
        {**TOKEN_CASE.headers, "Prefer": "code=401"},
        {"scriptId": SCRIPT},
    )
    operation = prism.spec()["paths"][
        "/accounts/{account_id}/workers/observability/telemetry/live-tail/heartbeat"
    ]["post"]
    schema = operation["responses"]["401"]["content"]["application/json"]["schema"]
    error_schema = schema["properties"]["errors"]["items"]
    documented_message = error_schema["properties"]["message"]["enum"][0]

    assert reply.status_code == 401
    body = reply.json()
    assert body["success"] is False
    assert body["errors"][0]["message"] == documented_message

    parsed = envelope.parse_envelope(reply.content)
    assert parsed.success is False
    assert [error.message for error in parsed.errors] == [documented_message]

    result = envelope.classify(reply.status_code, reply.content, reply.headers, 1.0)
    assert result.outcome == envelope.AUTH_FAILED
    assert result.ok is False
    assert documented_message in result.message
    assert_valid_requests(logged_requests(prism, prism_mark))
