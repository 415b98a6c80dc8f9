"""Credential sources, their order, file permissions, wrangler login, headers."""

from __future__ import annotations

import datetime as dt
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faultserver import FaultServer
from tui import credentials, paths
from tui.api import CloudflareClient
from tui.cli import main
from tui.credentials import MAX_TOKEN_FILE, Credential, resolve
from tui.errors import UserError

TOKEN_FILE_SECRET = "tokenfile-0123456789abcdefABCDEF"
ENV_TOKEN = "envtoken-0123456789abcdefABCDEF"
ENV_KEY = "0123456789abcdef0123456789abcdef01234"
ENV_EMAIL = "ops@example.com"
FILE_TOKEN = "credfile-0123456789abcdefABCDEF"
OAUTH_TOKEN = "oauth-0123456789abcdefABCDEF.xyz"
FUTURE = "2999-01-01T00:00:00.000Z"
PAST = "2001-01-01T00:00:00.000Z"


# Secrets and log handlers registered by in-process runs stay in their test.
pytestmark = pytest.mark.usefixtures("fresh_secrets")


@pytest.fixture
def api() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


def write_private(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def write_wrangler_login(path: Path, token: str, expiry: str | None = FUTURE) -> Path:
    lines = [f'oauth_token = "{token}"\n', 'refresh_token = "refresh-xyz"\n']
    if expiry is not None:
        lines.append(f'expiration_time = "{expiry}"\n')
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines), encoding="utf-8")
    return path


# -- precedence --------------------------------------------------------------

ALL_SOURCES = ("token_file", "env_token", "env_key", "credentials_file", "wrangler")

PRECEDENCE = [
    # (sources present, expected kind, expected secret, start of source)
    (ALL_SOURCES, credentials.API_TOKEN, TOKEN_FILE_SECRET, "--api-token-file"),
    (ALL_SOURCES[1:], credentials.API_TOKEN, ENV_TOKEN, "CLOUDFLARE_API_TOKEN"),
    (ALL_SOURCES[2:], credentials.GLOBAL_KEY, ENV_KEY, "CLOUDFLARE_API_KEY"),
    (ALL_SOURCES[3:], credentials.API_TOKEN, FILE_TOKEN, "credentials file"),
    (ALL_SOURCES[4:], credentials.OAUTH, OAUTH_TOKEN, "wrangler login"),
    (("token_file", "wrangler"), credentials.API_TOKEN, TOKEN_FILE_SECRET, "--api"),
    (("env_key", "wrangler"), credentials.GLOBAL_KEY, ENV_KEY, "CLOUDFLARE_API_KEY"),
    (("env_token", "env_key"), credentials.API_TOKEN, ENV_TOKEN, "CLOUDFLARE_API"),
]


def build_sources(tmp_path: Path, present: tuple[str, ...]) -> dict:
    """Create the named sources and return the keyword arguments of resolve()."""
    environ: dict[str, str] = {}
    token_file = None
    if "token_file" in present:
        token_file = tmp_path / "token.txt"
        token_file.write_text(TOKEN_FILE_SECRET + "\n", encoding="utf-8")
    if "env_token" in present:
        environ["CLOUDFLARE_API_TOKEN"] = ENV_TOKEN
    if "env_key" in present:
        environ["CLOUDFLARE_API_KEY"] = ENV_KEY
        environ["CLOUDFLARE_EMAIL"] = ENV_EMAIL
    credentials_path = tmp_path / "credentials.toml"
    if "credentials_file" in present:
        write_private(credentials_path, f'api_token = "{FILE_TOKEN}"\n')
    wrangler_path = tmp_path / "wrangler" / "default.toml"
    if "wrangler" in present:
        write_wrangler_login(wrangler_path, OAUTH_TOKEN)
    return {
        "token_file": token_file,
        "environ": environ,
        "credentials_path": credentials_path,
        "wrangler_paths": [wrangler_path],
    }


@pytest.mark.parametrize(("present", "kind", "secret", "source"), PRECEDENCE)
def test_resolve_precedence(tmp_path, present, kind, secret, source):
    credential = resolve(**build_sources(tmp_path, present))
    assert credential.kind == kind
    assert credential.secret == secret
    assert credential.source.startswith(source)


def test_resolve_global_key_carries_email(tmp_path):
    credential = resolve(**build_sources(tmp_path, ("env_key",)))
    assert credential.email == ENV_EMAIL
    assert credential.source == "CLOUDFLARE_API_KEY and CLOUDFLARE_EMAIL"


def test_resolve_nothing_found(tmp_path):
    with pytest.raises(UserError) as caught:
        resolve(**build_sources(tmp_path, ()))
    assert str(caught.value) == credentials.NO_CREDENTIALS_HELP
    assert "--api-token-file" in str(caught.value)


def test_resolve_default_paths(isolated_dirs):
    """Without explicit paths, resolve() reads the platformdirs credentials file."""
    write_private(paths.credentials_file(), f'api_token = "{FILE_TOKEN}"\n')
    credential = resolve(environ={})
    assert credential.secret == FILE_TOKEN
    assert str(paths.credentials_file()) in credential.source
    assert str(isolated_dirs) in str(paths.credentials_file())


def test_resolve_reads_os_environ_by_default(monkeypatch):
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", ENV_TOKEN)
    assert resolve().secret == ENV_TOKEN


# -- empty and half-set variables --------------------------------------------

EMPTY_ENVIRONMENTS = [
    {"CLOUDFLARE_API_TOKEN": ""},
    {"CLOUDFLARE_API_TOKEN": "   "},
    {"CLOUDFLARE_API_KEY": "", "CLOUDFLARE_EMAIL": ""},
    {"CLOUDFLARE_API_TOKEN": "", "CLOUDFLARE_API_KEY": " ", "CLOUDFLARE_EMAIL": "\t"},
]


@pytest.mark.parametrize("environ", EMPTY_ENVIRONMENTS)
def test_empty_variables_count_as_unset(tmp_path, environ):
    sources = build_sources(tmp_path, ("credentials_file",))
    sources["environ"] = dict(environ)
    credential = resolve(**sources)
    assert credential.secret == FILE_TOKEN
    assert credential.source.startswith("credentials file")


def test_empty_token_falls_to_global_key(tmp_path):
    sources = build_sources(tmp_path, ("env_key",))
    sources["environ"]["CLOUDFLARE_API_TOKEN"] = ""
    assert resolve(**sources).kind == credentials.GLOBAL_KEY


@pytest.mark.parametrize(
    ("environ", "present", "missing"),
    [
        ({"CLOUDFLARE_API_KEY": ENV_KEY}, "CLOUDFLARE_API_KEY", "CLOUDFLARE_EMAIL"),
        (
            {"CLOUDFLARE_API_KEY": ENV_KEY, "CLOUDFLARE_EMAIL": " "},
            "CLOUDFLARE_API_KEY",
            "CLOUDFLARE_EMAIL",
        ),
        ({"CLOUDFLARE_EMAIL": ENV_EMAIL}, "CLOUDFLARE_EMAIL", "CLOUDFLARE_API_KEY"),
    ],
)
def test_half_global_key_is_an_error(tmp_path, environ, present, missing):
    # A credentials file exists too, and the half-set pair must not fall to it.
    sources = build_sources(tmp_path, ("credentials_file",))
    sources["environ"] = environ
    with pytest.raises(UserError) as caught:
        resolve(**sources)
    message = str(caught.value)
    assert f"{present} is set but {missing} is missing" in message
    assert "CLOUDFLARE_API_TOKEN" in message
    assert ENV_KEY not in message


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CLOUDFLARE_API_TOKEN", "abc-part1\nInjected: header"),
        ("CLOUDFLARE_API_TOKEN", "abc-part1 part2"),
        ("CLOUDFLARE_API_TOKEN", "abc-part1\x00part2"),
        ("CLOUDFLARE_API_TOKEN", "abc-part1\u00e9part2"),
        ("CLOUDFLARE_API_KEY", "0123456789abcdef\r\n0123456789abcdef"),
        ("CLOUDFLARE_EMAIL", "ops\u00e9@example.com"),
    ],
)
def test_unsendable_variable_is_an_error(variable, value):
    """A value httpx cannot put in a header fails early, without quoting it."""
    environ = {"CLOUDFLARE_API_KEY": ENV_KEY, "CLOUDFLARE_EMAIL": ENV_EMAIL}
    environ[variable] = value
    with pytest.raises(UserError) as caught:
        resolve(environ=environ, credentials_path=Path("absent"), wrangler_paths=[])
    message = str(caught.value)
    assert "CLOUDFLARE_" in message
    assert "abc-part1" not in message
    assert "0123456789abcdef" not in message


def test_unsendable_token_sends_no_request(api, monkeypatch, capsys, restore_logging):
    """httpx would reject such a header and quote the token in its error."""
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "secret-part\nX-Other: 1")
    code = main(["--list-accounts", "--base-url", api.base_url])
    stderr = capsys.readouterr().err
    assert code == 2
    assert "CLOUDFLARE_API_TOKEN" in stderr
    assert "secret-part" not in stderr
    assert api.requests == []


# -- --api-token-file --------------------------------------------------------


def test_token_file_strips_final_newline(tmp_path):
    path = tmp_path / "token"
    path.write_text("  tok-123456  \n", encoding="utf-8")
    credential = resolve(token_file=path, environ={})
    assert credential.secret == "tok-123456"
    assert credential.source == f"--api-token-file {path}"


def test_token_file_ignores_byte_order_mark(tmp_path):
    path = tmp_path / "token"
    path.write_text("\ufefftok-123456\r\n", encoding="utf-8")
    credential = resolve(token_file=path, environ={})
    assert credential.secret == "tok-123456"


TOKEN_FILE_ERRORS = [
    # (file content or None for a missing file, words expected in the error)
    (None, "not found"),
    ("", "is empty"),
    (" \n\n", "is empty"),
    ("tok-first-line\ntok-second-line\n", "only the token, on one line"),
    ("tok-first tok-second", "only the token, on one line"),
    ("tok-first\x07bell", "only the token, on one line"),
    (b"\xff\xfetok-binary", "not UTF-8 text"),
]


@pytest.mark.parametrize(("content", "expected"), TOKEN_FILE_ERRORS)
def test_token_file_errors(tmp_path, content, expected):
    path = tmp_path / "token"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    environ = {"CLOUDFLARE_API_TOKEN": ENV_TOKEN}
    with pytest.raises(UserError) as caught:
        resolve(token_file=path, environ=environ)
    message = str(caught.value)
    assert expected in message
    assert str(path) in message
    assert "--api-token-file" in message
    assert "tok-" not in message.replace(str(path), "")


def test_token_file_is_a_directory(tmp_path):
    with pytest.raises(UserError) as caught:
        resolve(token_file=tmp_path, environ={})
    assert f"{tmp_path} is not a regular file" in str(caught.value)


def test_token_file_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(UserError) as caught:
        resolve(token_file=fifo, environ={})
    assert "not a regular file" in str(caught.value)


def test_token_file_too_large_is_refused(tmp_path):
    big = tmp_path / "big"
    big.write_bytes(b"x" * (MAX_TOKEN_FILE + 1))
    with pytest.raises(UserError) as caught:
        resolve(token_file=big, environ={})
    assert "too large" in str(caught.value)


def test_token_file_non_ascii_is_an_error(tmp_path):
    path = tmp_path / "token"
    path.write_text("tok-\u00e9t\u00e9", encoding="utf-8")
    with pytest.raises(UserError) as caught:
        resolve(token_file=path, environ={})
    assert "--api-token-file" in str(caught.value)
    assert "tok-" not in str(caught.value).replace(str(path), "")


# -- the app's credentials file ----------------------------------------------


def test_credentials_file_0644_rejected(tmp_path):
    path = write_private(tmp_path / "credentials.toml", f'api_token = "{FILE_TOKEN}"\n')
    path.chmod(0o644)
    with pytest.raises(UserError) as caught:
        resolve(environ={}, credentials_path=path, wrangler_paths=[])
    message = str(caught.value)
    assert f"chmod 600 {path}" in message
    assert "mode 644" in message
    assert FILE_TOKEN not in message


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o602])
def test_credentials_file_group_other_bits_rejected(tmp_path, mode):
    path = write_private(tmp_path / "c.toml", f'api_token = "{FILE_TOKEN}"\n', mode)
    with pytest.raises(UserError, match="chmod 600"):
        resolve(environ={}, credentials_path=path, wrangler_paths=[])


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_credentials_file_private_modes_accepted(tmp_path, mode):
    path = write_private(tmp_path / "c.toml", f'api_token = "{FILE_TOKEN}"\n', mode)
    credential = resolve(environ={}, credentials_path=path, wrangler_paths=[])
    assert credential.secret == FILE_TOKEN
    assert credential.source == f"credentials file {path}"


def test_credentials_file_global_key(tmp_path):
    text = f'api_key = "{ENV_KEY}"\nemail = "{ENV_EMAIL}"\n'
    path = write_private(tmp_path / "c.toml", text)
    credential = resolve(environ={}, credentials_path=path, wrangler_paths=[])
    assert credential.kind == credentials.GLOBAL_KEY
    assert credential.email == ENV_EMAIL
    assert credential.secret == ENV_KEY


@pytest.mark.parametrize(
    ("text", "present"),
    [(f'api_key = "{ENV_KEY}"\n', "api_key"), (f'email = "{ENV_EMAIL}"\n', "email")],
)
def test_credentials_file_half_global_key(tmp_path, text, present):
    """Half a global key is an error, not a silent "no credentials found"."""
    path = write_private(tmp_path / "c.toml", text)
    with pytest.raises(UserError) as caught:
        resolve(environ={}, credentials_path=path, wrangler_paths=[])
    message = str(caught.value)
    assert f"has {present} but no" in message
    assert ENV_KEY not in message


def test_credentials_file_invalid_toml_hides_content(tmp_path):
    path = write_private(tmp_path / "c.toml", f"api_token = {FILE_TOKEN}\n")
    with pytest.raises(UserError) as caught:
        resolve(environ={}, credentials_path=path, wrangler_paths=[])
    assert "not valid TOML" in str(caught.value)
    assert FILE_TOKEN not in str(caught.value)


def test_credentials_file_without_credential_falls_through(tmp_path):
    path = write_private(tmp_path / "c.toml", "# nothing saved yet\n")
    wrangler = write_wrangler_login(tmp_path / "w.toml", OAUTH_TOKEN)
    credential = resolve(environ={}, credentials_path=path, wrangler_paths=[wrangler])
    assert credential.kind == credentials.OAUTH


def test_save_token_creates_0600(tmp_path):
    old_umask = os.umask(0)
    try:
        path = credentials.save_token(f"  {FILE_TOKEN}\n", tmp_path / "new" / "c.toml")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    credential = resolve(environ={}, credentials_path=path, wrangler_paths=[])
    assert credential.secret == FILE_TOKEN
    assert not path.with_name(path.name + ".tmp").exists()


def test_save_token_tightens_existing_file(tmp_path):
    path = write_private(tmp_path / "c.toml", 'api_token = "old-token"\n', 0o644)
    credentials.save_token(FILE_TOKEN, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert resolve(environ={}, credentials_path=path).secret == FILE_TOKEN


def test_save_token_default_path(isolated_dirs):
    path = credentials.save_token(FILE_TOKEN)
    assert path == paths.credentials_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "token", ["", "   ", "two words", "line\nbreak", "tab\there", "caf\u00e9-token"]
)
def test_save_token_rejects_unsendable(tmp_path, token):
    path = tmp_path / "c.toml"
    with pytest.raises(UserError):
        credentials.save_token(token, path)
    assert not path.exists()


def test_save_token_quotes_toml_specials(tmp_path):
    token = 'tok"with\\specials'
    path = credentials.save_token(token, tmp_path / "c.toml")
    assert resolve(environ={}, credentials_path=path).secret == token


# -- wrangler login ----------------------------------------------------------


def linux_xdg_login(home: Path) -> Path:
    return home / ".config" / ".wrangler" / "config" / "default.toml"


def test_wrangler_linux_xdg_path(isolated_dirs, monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    custom = isolated_dirs / "custom-xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(custom))
    path = write_wrangler_login(custom / ".wrangler" / "config" / "default.toml", "t1")
    credential = resolve()
    assert credential.kind == credentials.OAUTH
    assert credential.secret == "t1"
    assert str(path) in credential.source


def test_wrangler_xdg_from_given_environ(isolated_dirs, monkeypatch):
    """resolve(environ=...) takes XDG_CONFIG_HOME from that mapping."""
    monkeypatch.setattr(sys, "platform", "linux")
    custom = isolated_dirs / "elsewhere"
    write_wrangler_login(custom / ".wrangler" / "config" / "default.toml", "t2")
    credential = resolve(environ={"XDG_CONFIG_HOME": str(custom)})
    assert credential.secret == "t2"


def test_wrangler_linux_default_config_dir(isolated_dirs, monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delenv("XDG_CONFIG_HOME")
    write_wrangler_login(linux_xdg_login(isolated_dirs), "t3")
    assert resolve(environ={}).secret == "t3"


def test_wrangler_legacy_home_path(isolated_dirs):
    path = isolated_dirs / ".wrangler" / "config" / "default.toml"
    write_wrangler_login(path, "t4")
    credential = resolve(environ={})
    assert credential.secret == "t4"
    assert str(path) in credential.source


def test_wrangler_macos_path(isolated_dirs, monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    library = isolated_dirs / "Library" / "Preferences" / ".wrangler" / "config"
    write_wrangler_login(library / "default.toml", "t5")
    credential = resolve(environ={})
    assert credential.secret == "t5"
    assert "Library/Preferences" in credential.source


def test_wrangler_macos_ignores_xdg_path(isolated_dirs, monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    write_wrangler_login(linux_xdg_login(isolated_dirs), "t6")
    with pytest.raises(UserError, match="no Cloudflare credentials"):
        resolve(environ={})


@pytest.mark.parametrize(
    "expiry_line",
    [
        f'expiration_time = "{PAST}"',
        'expiration_time = "2001-01-01T00:00:00+00:00"',
        'expiration_time = "2001-01-01T00:00:00"',
        "expiration_time = 2001-01-01T00:00:00Z",
    ],
)
def test_wrangler_expired_token_is_an_error(tmp_path, expiry_line):
    path = tmp_path / "default.toml"
    path.write_text(f'oauth_token = "{OAUTH_TOKEN}"\n{expiry_line}\n', "utf-8")
    with pytest.raises(UserError) as caught:
        resolve(environ={}, credentials_path=tmp_path / "absent", wrangler_paths=[path])
    message = str(caught.value)
    assert "expired at 2001-01-01 00:00 UTC" in message
    assert str(path) in message
    assert "wrangler login" in message
    assert OAUTH_TOKEN not in message


def test_wrangler_expiry_compared_with_now(tmp_path):
    path = write_wrangler_login(tmp_path / "d.toml", OAUTH_TOKEN, "2030-06-01T12:00Z")
    before = dt.datetime(2030, 6, 1, 11, 59, tzinfo=dt.UTC)
    after = dt.datetime(2030, 6, 1, 12, 0, tzinfo=dt.UTC)
    assert credentials.load_wrangler_token([path], now=before) is not None
    with pytest.raises(UserError, match="expired"):
        credentials.load_wrangler_token([path], now=after)


@pytest.mark.parametrize("expiry", [None, "not a date"])
def test_wrangler_token_without_usable_expiry(tmp_path, expiry):
    # NOTE: an unreadable expiry does not count as expired, so the API decides.
    path = write_wrangler_login(tmp_path / "d.toml", OAUTH_TOKEN, expiry)
    credential = credentials.load_wrangler_token([path])
    assert credential is not None
    assert credential.secret == OAUTH_TOKEN


def test_wrangler_file_without_token_is_skipped(tmp_path):
    empty = tmp_path / "a.toml"
    empty.write_text('refresh_token = "r"\n', encoding="utf-8")
    second = write_wrangler_login(tmp_path / "b.toml", OAUTH_TOKEN)
    credential = credentials.load_wrangler_token([empty, second])
    assert credential is not None
    assert str(second) in credential.source


def test_wrangler_broken_file_is_an_error(tmp_path):
    path = tmp_path / "d.toml"
    path.write_text(f"oauth_token = {OAUTH_TOKEN}\n", encoding="utf-8")
    with pytest.raises(UserError) as caught:
        credentials.load_wrangler_token([path])
    assert str(path) in str(caught.value)
    assert OAUTH_TOKEN not in str(caught.value)


def test_expired_wrangler_token_not_sent(
    api, isolated_dirs, monkeypatch, capsys, restore_logging
):
    monkeypatch.setattr(sys, "platform", "linux")
    write_wrangler_login(linux_xdg_login(isolated_dirs), OAUTH_TOKEN, PAST)
    code = main(["--list-accounts", "--base-url", api.base_url])
    stderr = capsys.readouterr().err
    assert code == 2
    assert "expired at 2001-01-01 00:00 UTC" in stderr
    assert OAUTH_TOKEN not in stderr
    assert api.requests == []


# -- headers and repr ----------------------------------------------------------

KIND_EXAMPLES = [
    Credential.api_token(ENV_TOKEN, "CLOUDFLARE_API_TOKEN"),
    Credential.global_key(
        ENV_EMAIL, ENV_KEY, "CLOUDFLARE_API_KEY and CLOUDFLARE_EMAIL"
    ),
    Credential.oauth(OAUTH_TOKEN, "wrangler login"),
]
AUTH_HEADERS = {"authorization", "x-auth-email", "x-auth-key"}


def test_headers_token_is_bearer_only():
    headers = KIND_EXAMPLES[0].headers()
    assert headers == {"Authorization": f"Bearer {ENV_TOKEN}"}


def test_headers_global_key_is_x_auth_only():
    headers = KIND_EXAMPLES[1].headers()
    assert headers == {"X-Auth-Email": ENV_EMAIL, "X-Auth-Key": ENV_KEY}


def test_headers_oauth_is_bearer_only():
    headers = KIND_EXAMPLES[2].headers()
    assert headers == {"Authorization": f"Bearer {OAUTH_TOKEN}"}


@pytest.mark.parametrize(
    "credential",
    [
        Credential.api_token("   ", "CLOUDFLARE_API_TOKEN"),
        Credential.oauth("", "wrangler login"),
        Credential.global_key(ENV_EMAIL, " ", "CLOUDFLARE_API_KEY"),
        Credential.global_key("", ENV_KEY, "CLOUDFLARE_API_KEY"),
    ],
)
def test_headers_never_empty(credential):
    with pytest.raises(UserError):
        credential.headers()


@pytest.mark.parametrize("credential", KIND_EXAMPLES, ids=lambda c: c.kind)
async def test_wire_headers_use_one_form(api, credential):
    """The request on the wire carries exactly one auth form, never empty."""
    async with CloudflareClient(api.base_url, credential) as client:
        await client.call("GET", "/user")
    (request,) = api.requests
    sent = {name for name in request.headers if name in AUTH_HEADERS}
    if credential.kind == credentials.GLOBAL_KEY:
        assert sent == {"x-auth-email", "x-auth-key"}
        assert request.headers["x-auth-key"] == ENV_KEY
    else:
        assert sent == {"authorization"}
        assert request.headers["authorization"] == f"Bearer {credential.secret}"
    for name in sent:
        assert request.headers[name].strip() != ""
        assert request.headers[name] != "Bearer"


@pytest.mark.parametrize("credential", KIND_EXAMPLES, ids=lambda c: c.kind)
def test_repr_hides_secret(credential):
    for text in (repr(credential), str(credential), f"{credential}"):
        assert credential.secret not in text
    assert credential.secret not in credential.description
    assert credential.source in repr(credential)


def test_secrets_lists_only_the_secret():
    assert KIND_EXAMPLES[1].secrets() == [ENV_KEY]
    assert Credential.api_token("", "x").secrets() == []
