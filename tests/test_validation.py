"""Account ids, Worker names and base URLs are checked before any request."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faultserver import FaultServer, Reply
from tui.api import (
    DEFAULT_BASE_URL,
    ApiError,
    CloudflareClient,
    check_account_id,
    check_base_url,
    check_script_name,
)
from tui.cli import main
from tui.credentials import Credential
from tui.errors import UserError

ACCOUNT = "0123456789abcdef0123456789abcdef"
TOKEN = "validation-token-0123456789abcdef"
GLOBAL_KEY = "fedcba9876543210fedcba98765432101234"
EMAIL = "ops@example.com"

BAD_ACCOUNT_IDS = {
    "dot-dot-slash": "../" + ACCOUNT[3:],
    "dot-dot-only": "..",
    "slash-inside": ACCOUNT[:16] + "/" + ACCOUNT[17:],
    "encoded-slash": ACCOUNT[:29] + "%2f",
    "encoded-slash-upper": "%2F" + ACCOUNT[3:],
    "question-mark": ACCOUNT[:31] + "?",
    "hash": ACCOUNT[:31] + "#",
    "inner-space": ACCOUNT[:16] + " " + ACCOUNT[16:31],
    "inner-tab": ACCOUNT[:16] + "\t" + ACCOUNT[17:],
    "newline-inside": ACCOUNT[:16] + "\n" + ACCOUNT[17:],
    "nul": ACCOUNT[:31] + "\x00",
    "escape-sequence": "\x1b[31m" + ACCOUNT[5:],
    "fullwidth-digits": "\uff10" * 32,
    "arabic-indic-digits": "\u0663" * 32,
    "accented": "\u00e9" + ACCOUNT[1:],
    "31-hex": ACCOUNT[:31],
    "33-hex": ACCOUNT + "0",
    "non-hex-letter": "g" + ACCOUNT[1:],
    "empty-after-strip": "   ",
}

BAD_SCRIPT_NAMES = {
    "dot-dot-slash": "../other",
    "dot-dot": "..",
    "dot": ".",
    "slash": "a/b",
    "encoded-slash": "a%2fb",
    "question-mark": "worker?x=1",
    "hash": "worker#x",
    "space": "my worker",
    "trailing-newline": "worker\n",
    "control": "work\x07er",
    "nul": "worker\x00",
    "escape-sequence": "\x1b[2Jworker",
    "unicode-letter": "w\u00f6rker",
    "fullwidth": "\uff57orker",
    "leading-dash": "-worker",
    "64-chars": "w" * 64,
}

GOOD_SCRIPT_NAMES = ["w", "_", "my-worker", "my_worker_2", "MyWorker", "w" * 63]


# Secrets and log handlers registered by in-process runs stay in their test.
pytestmark = pytest.mark.usefixtures("fresh_secrets", "restore_logging")


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultServer]:
    """A server that accepts everything, and a token in the environment.

    With a credential available, a value that slipped through validation would
    show up as a request here.
    """
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", TOKEN)
    with FaultServer() as server:
        yield server


@pytest.fixture
def elsewhere() -> Iterator[FaultServer]:
    """A second loopback server: the target of every redirect."""
    with FaultServer() as server:
        yield server


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


# -- account ids ---------------------------------------------------------------


@pytest.mark.parametrize("value", BAD_ACCOUNT_IDS.values(), ids=BAD_ACCOUNT_IDS)
def test_check_account_id_rejects(value):
    with pytest.raises(UserError) as caught:
        check_account_id(value)
    assert "invalid account id" in str(caught.value)


@pytest.mark.parametrize("value", BAD_ACCOUNT_IDS.values(), ids=BAD_ACCOUNT_IDS)
def test_bad_account_sends_nothing(api, capsys, value):
    code, stderr = run_cli(
        capsys, "--list-scripts", f"--account={value}", "--base-url", api.base_url
    )
    assert code == 2
    assert "invalid account id" in stderr
    assert api.requests == []


# An environment variable cannot hold a NUL character.
ENV_ACCOUNT_IDS = {k: v for k, v in BAD_ACCOUNT_IDS.items() if "\x00" not in v}


@pytest.mark.parametrize("value", ENV_ACCOUNT_IDS.values(), ids=ENV_ACCOUNT_IDS)
def test_bad_account_from_environment_sends_nothing(api, capsys, monkeypatch, value):
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", value)
    code, stderr = run_cli(capsys, "--list-scripts", "--base-url", api.base_url)
    assert code == 2
    assert api.requests == []
    if value.strip():
        assert "invalid account id" in stderr


def test_error_escapes_control_characters(api, capsys):
    code, stderr = run_cli(
        capsys, "--list-scripts", "--account=\x1b[31mred", "--base-url", api.base_url
    )
    assert code == 2
    assert "\x1b" not in stderr
    assert "\\x1b[31mred" in stderr


def test_uppercase_account_accepted_and_lowercased(api, capsys):
    code, _ = run_cli(
        capsys,
        "--list-scripts",
        f"--account={ACCOUNT.upper()}",
        "--base-url",
        api.base_url,
    )
    assert code == 0
    (request,) = api.requests
    assert request.path == f"/client/v4/accounts/{ACCOUNT}/workers/scripts"


def test_account_surrounding_whitespace_stripped():
    assert check_account_id(f"  {ACCOUNT.upper()}\n") == ACCOUNT


# -- Worker names ----------------------------------------------------------------


@pytest.mark.parametrize("value", BAD_SCRIPT_NAMES.values(), ids=BAD_SCRIPT_NAMES)
def test_check_script_name_rejects(value):
    with pytest.raises(UserError) as caught:
        check_script_name(value)
    assert "invalid Worker name" in str(caught.value)


@pytest.mark.parametrize("value", GOOD_SCRIPT_NAMES)
def test_check_script_name_accepts(value):
    assert check_script_name(value) == value


@pytest.mark.parametrize("value", BAD_SCRIPT_NAMES.values(), ids=BAD_SCRIPT_NAMES)
def test_bad_script_sends_nothing(api, capsys, value):
    code, stderr = run_cli(
        capsys,
        "--headless",
        "--count=1",
        f"--account={ACCOUNT}",
        f"--script={value}",
        "--base-url",
        api.base_url,
    )
    assert code == 2
    assert "invalid Worker name" in stderr
    assert api.requests == []


async def test_client_rejects_bad_script_before_sending(api):
    credential = Credential.api_token(TOKEN, "test")
    async with CloudflareClient(api.base_url, credential) as client:
        for value in ("../x", "a%2fb", "a b"):
            with pytest.raises(UserError):
                await client.heartbeat(ACCOUNT, value)
            with pytest.raises(UserError):
                await client.prepare_live_tail(ACCOUNT, value)
        with pytest.raises(UserError):
            await client.heartbeat("../" + ACCOUNT[3:], "worker")
    assert api.requests == []


# -- base URL ------------------------------------------------------------------

REJECTED_BASE_URLS = {
    "http-public-host": "http://api.cloudflare.com/client/v4",
    "http-private-ip": "http://10.0.0.1/client/v4",
    "http-unspecified": "http://0.0.0.0:8080/client/v4",
    "http-loopback-lookalike": "http://127.0.0.1.example.com/client/v4",
    "http-localhost-lookalike": "http://localhost.example.com/client/v4",
    "user-and-password": "https://user:pass@api.cloudflare.com/client/v4",
    "user-only": "https://token@api.cloudflare.com/client/v4",
    "loopback-with-password": "http://user:pass@127.0.0.1:8080/client/v4",
    "query": "https://api.cloudflare.com/client/v4?x=1",
    "fragment": "https://api.cloudflare.com/client/v4#x",
    "ftp": "ftp://api.cloudflare.com/client/v4",
    "no-scheme": "api.cloudflare.com/client/v4",
    "no-host": "https:///client/v4",
    "space-in-path": "http://127.0.0.1:8080/client v4",
    "empty": "",
}

ACCEPTED_BASE_URLS = {
    "https-default": (DEFAULT_BASE_URL, DEFAULT_BASE_URL),
    "https-trailing-slash": (DEFAULT_BASE_URL + "/", DEFAULT_BASE_URL),
    "https-other-host": ("https://proxy.example.net:8443/cf", None),
    "http-ipv4-loopback": ("http://127.0.0.1:8080/client/v4", None),
    "http-other-127": ("http://127.5.6.7:8080/client/v4", None),
    "http-ipv6-loopback": ("http://[::1]:8080/client/v4", None),
    "http-localhost": ("http://localhost:8787/client/v4", None),
    "upper-case-scheme": ("HTTPS://api.cloudflare.com/client/v4", None),
}


@pytest.mark.parametrize("url", REJECTED_BASE_URLS.values(), ids=REJECTED_BASE_URLS)
def test_base_url_rejected(url):
    with pytest.raises(UserError):
        check_base_url(url)


def test_http_error_names_host_and_fix():
    with pytest.raises(UserError) as caught:
        check_base_url("http://api.cloudflare.com/client/v4")
    message = str(caught.value)
    assert "api.cloudflare.com" in message
    assert "https://" in message


def test_base_url_error_hides_password():
    with pytest.raises(UserError) as caught:
        check_base_url("https://user:hunter2-secret@api.cloudflare.com/client/v4")
    assert "hunter2-secret" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "expected"), ACCEPTED_BASE_URLS.values(), ids=ACCEPTED_BASE_URLS
)
def test_base_url_accepted(url, expected):
    assert check_base_url(url) == (expected or url)


@pytest.mark.parametrize("flag", ["--base-url", "env"])
def test_base_url_with_password_sends_nothing(api, capsys, monkeypatch, flag):
    url = api.base_url.replace("http://", "http://user:pass@")
    argv = ["--list-accounts"]
    if flag == "env":
        monkeypatch.setenv("CLOUDFLARE_API_BASE_URL", url)
    else:
        argv += ["--base-url", url]
    code, stderr = run_cli(capsys, *argv)
    assert code == 2
    assert "user name or password" in stderr
    assert "pass@" not in stderr
    assert api.requests == []


def test_base_url_with_query_sends_nothing(api, capsys):
    code, _ = run_cli(capsys, "--list-accounts", "--base-url", api.base_url + "?a=b")
    assert code == 2
    assert api.requests == []


def test_base_url_variables_order(api, elsewhere, capsys, monkeypatch):
    """CLOUDFLARE_API_BASE_URL (wrangler's) wins over CLOUDFLARE_BASE_URL."""
    monkeypatch.setenv("CLOUDFLARE_BASE_URL", elsewhere.base_url)
    monkeypatch.setenv("CLOUDFLARE_API_BASE_URL", api.base_url)
    code, _ = run_cli(capsys, "--list-accounts")
    assert code == 0
    assert [request.path for request in api.requests] == ["/client/v4/accounts"]
    assert elsewhere.requests == []


# -- redirects -------------------------------------------------------------------

CREDENTIALS = {
    "token": Credential.api_token(TOKEN, "test"),
    "global-key": Credential.global_key(EMAIL, GLOBAL_KEY, "test"),
}


def redirect_to(target: FaultServer, status: int = 302) -> Reply:
    return Reply(status, headers={"Location": target.base_url + "/accounts"}, body="")


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("kind", CREDENTIALS)
async def test_redirect_not_followed(api, elsewhere, kind, status):
    api.set_default(redirect_to(elsewhere, status))
    async with CloudflareClient(api.base_url, CREDENTIALS[kind]) as client:
        with pytest.raises(ApiError) as caught:
            await client.list_accounts()
        heartbeat = await client.heartbeat(ACCOUNT, "worker")
    assert caught.value.outcome == "rejected"
    assert "not followed" in caught.value.result.message
    assert heartbeat.outcome == "rejected"
    assert heartbeat.fatal
    assert len(api.requests) == 2
    assert elsewhere.requests == []


async def test_relative_redirect_not_followed(api):
    api.set_default(Reply(307, headers={"Location": "/client/v4/other"}, body=""))
    async with CloudflareClient(api.base_url, CREDENTIALS["token"]) as client:
        result = await client.call("GET", "/user")
    assert result.outcome == "rejected"
    assert [request.path for request in api.requests] == ["/client/v4/user"]


def test_cli_redirect_sends_nothing_elsewhere(api, elsewhere, capsys):
    api.set_default(redirect_to(elsewhere))
    code, stderr = run_cli(capsys, "--list-accounts", "--base-url", api.base_url)
    assert code == 2
    assert "not followed" in stderr
    assert TOKEN not in stderr
    assert elsewhere.requests == []
