"""Hostile local state: a locked history, blank base URLs, odd wrangler files."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import cli_env
from tests.faultserver import FaultServer, Reply, envelope
from tui import api, history, wrangler
from tui.cli import build_parser, main, resolve_options
from tui.credentials import Credential
from tui.demo import data
from tui.demo.server import DEMO_TOKEN
from tui.errors import UserError
from tui.history import HistoryError, HistoryStore

ACCOUNT = data.ACCOUNTS[0]["id"]
SCRIPT = data.SCRIPTS_BY_ACCOUNT_ID[ACCOUNT][0]["id"]


# Secrets and log handlers registered by in-process runs stay in their test.
pytestmark = pytest.mark.usefixtures("fresh_secrets", "restore_logging")


@pytest.fixture
def api_server() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


def history_path(home: Path) -> Path:
    return home / ".local" / "share" / "cf-livetail" / "history.db"


# -- history database ------------------------------------------------------------


@pytest.fixture
def locked_database(tmp_path: Path) -> Iterator[Path]:
    """A valid history database with a write transaction held open on it."""
    path = tmp_path / "data" / "history.db"
    HistoryStore(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    yield path
    holder.rollback()
    holder.close()


def test_locked_history_is_an_error_not_moved(locked_database, monkeypatch):
    monkeypatch.setattr(history, "OPEN_BUSY_TIMEOUT_MS", 200)
    with pytest.raises(HistoryError) as caught:
        HistoryStore(locked_database)
    message = str(caught.value)
    assert "is locked by another process" in message
    assert "try again" in message
    assert "\n" not in message
    assert sorted(p.name for p in locked_database.parent.glob("*corrupt*")) == []


def test_locked_history_in_headless_is_one_line(
    demo, isolated_dirs, monkeypatch, capsys
):
    path = history_path(isolated_dirs)
    HistoryStore(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    monkeypatch.setattr(history, "OPEN_BUSY_TIMEOUT_MS", 200)
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", DEMO_TOKEN)

    try:
        code = main(
            [
                "--headless",
                "--base-url",
                demo.base_url,
                "--account",
                ACCOUNT,
                "--script",
                SCRIPT,
                "--count",
                "1",
            ]
        )
    finally:
        holder.rollback()
        holder.close()

    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err == (
        f"cf-livetail: history database {path} is locked by another process (is "
        "another cf-livetail writing to it?); try again when it finishes\n"
    )
    assert list(path.parent.glob("*corrupt*")) == []


def test_is_locked_reads_busy_and_locked_codes():
    busy = sqlite3.OperationalError("database is locked")
    busy.sqlite_errorcode = sqlite3.SQLITE_BUSY
    locked = sqlite3.OperationalError("database table is locked")
    locked.sqlite_errorcode = sqlite3.SQLITE_LOCKED
    # SQLITE_BUSY_SNAPSHOT: SQLITE_BUSY with an extended code in the high bits.
    snapshot = sqlite3.OperationalError("database is locked")
    snapshot.sqlite_errorcode = sqlite3.SQLITE_BUSY | (2 << 8)
    corrupt = sqlite3.DatabaseError("file is not a database")
    corrupt.sqlite_errorcode = sqlite3.SQLITE_NOTADB
    assert history.is_locked(busy)
    assert history.is_locked(locked)
    assert history.is_locked(snapshot)
    assert history.is_locked(sqlite3.OperationalError("database is locked"))
    assert not history.is_locked(corrupt)


def database_modes(path: Path) -> dict[str, int]:
    """Return the mode of the database and of its -wal and -shm files."""
    return {
        suffix: stat.S_IMODE(Path(f"{path}{suffix}").stat().st_mode)
        for suffix in history.DATABASE_SUFFIXES
    }


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_fresh_history_after_corrupt_is_private(tmp_path, umask_022):
    path = tmp_path / "history.db"
    path.write_bytes(b"this is not a database" * 100)
    path.chmod(0o600)
    store = HistoryStore(path)
    try:
        assert store.notice is not None
        assert "moved it to" in store.notice
        assert database_modes(path) == {"": 0o600, "-wal": 0o600, "-shm": 0o600}
    finally:
        store.close()


def test_first_history_is_private(tmp_path, umask_022):
    path = tmp_path / "data" / "history.db"
    store = HistoryStore(path)
    try:
        assert database_modes(path) == {"": 0o600, "-wal": 0o600, "-shm": 0o600}
    finally:
        store.close()


def test_readable_history_made_private(tmp_path, umask_022):
    path = tmp_path / "history.db"
    HistoryStore(path).close()
    path.chmod(0o644)
    store = HistoryStore(path)
    try:
        assert store.notice is None
        assert database_modes(path) == {"": 0o600, "-wal": 0o600, "-shm": 0o600}
    finally:
        store.close()


# -- base URL --------------------------------------------------------------------


def resolve(*argv: str, environ: dict[str, str] | None = None):
    return resolve_options(build_parser().parse_args(list(argv)), environ or {})


@pytest.mark.parametrize("value", ["", "   ", "\t"])
def test_blank_base_url_flag_is_an_error(value):
    with pytest.raises(UserError) as caught:
        resolve("--list-accounts", "--base-url", value)
    message = str(caught.value)
    assert message.startswith("--base-url is empty: ")
    assert "leave out --base-url" in message


@pytest.mark.parametrize("name", ["CLOUDFLARE_API_BASE_URL", "CLOUDFLARE_BASE_URL"])
@pytest.mark.parametrize("value", ["", "  "])
def test_blank_base_url_variable_is_an_error(name, value):
    with pytest.raises(UserError) as caught:
        resolve("--list-accounts", environ={name: value})
    assert str(caught.value).startswith(f"{name} is set but empty: ")


def test_flag_wins_over_blank_variable(api_server):
    options = resolve(
        "--list-accounts",
        "--base-url",
        api_server.base_url,
        environ={"CLOUDFLARE_API_BASE_URL": ""},
    )
    assert options.base_url == api_server.base_url


def test_check_base_url_names_empty_value():
    with pytest.raises(UserError) as caught:
        api.check_base_url(" ")
    assert str(caught.value).startswith("the API base URL is empty: ")


def test_blank_base_url_sends_nothing(api_server, capsys, monkeypatch):
    # A fallback to the default would reach this loopback server, not the API.
    monkeypatch.setattr(api, "DEFAULT_BASE_URL", api_server.base_url)
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "robustness-token-0123456789")
    code = main(["--list-accounts", "--base-url", ""])
    assert code == 2
    assert capsys.readouterr().err.startswith("cf-livetail: --base-url is empty: ")
    assert api_server.requests == []


# -- wrangler files that are not regular files -----------------------------------


# The app with its address space capped at 2 GiB, so that reading /dev/zero
# without a limit fails in seconds instead of filling the machine's memory.
CAPPED_APP = (
    "import resource, sys\n"
    "resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"
    "from tui.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def run_with_config(
    home: Path, config: Path, base_url: str
) -> subprocess.CompletedProcess[str]:
    argv = ["--headless", "--base-url", base_url, "--config", str(config)]
    return subprocess.run(
        [sys.executable, "-c", CAPPED_APP, *argv],
        env=cli_env(home),
        capture_output=True,
        text=True,
        timeout=20,
        stdin=subprocess.DEVNULL,
    )


def test_config_link_to_dev_zero_is_rejected(tmp_path, isolated_dirs, api_server):
    config = tmp_path / "wrangler.toml"
    config.symlink_to("/dev/zero")
    result = run_with_config(isolated_dirs, config, api_server.base_url)
    assert result.returncode == 2
    assert result.stderr == (
        f"cf-livetail: cannot read {config} (a link to /dev/zero): it is a "
        "character device, not a regular file; give the path of a wrangler.toml, "
        "wrangler.json or wrangler.jsonc file\n"
    )
    assert api_server.requests == []


def test_config_fifo_is_rejected_at_once(tmp_path, isolated_dirs, api_server):
    config = tmp_path / "wrangler.toml"
    os.mkfifo(config)
    result = run_with_config(isolated_dirs, config, api_server.base_url)
    assert result.returncode == 2
    assert "it is a named pipe (FIFO), not a regular file" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert api_server.requests == []


def test_config_directory_is_rejected(tmp_path):
    config = tmp_path / "wrangler.toml"
    config.mkdir()
    with pytest.raises(UserError, match="it is a directory, not a regular file"):
        wrangler.resolve(config)


def test_config_too_large_is_rejected(tmp_path, isolated_dirs, api_server):
    config = tmp_path / "wrangler.toml"
    # Valid TOML, so only the size check can reject it.
    padding = "#" * 1000 + "\n"
    text = 'name = "w"\n' + padding * (wrangler.MAX_CONFIG_BYTES // len(padding) + 1)
    config.write_text(text, encoding="utf-8")
    result = run_with_config(isolated_dirs, config, api_server.base_url)
    assert result.returncode == 2
    assert result.stderr == (
        f"cf-livetail: cannot read {config}: it is larger than 1,048,576 bytes, "
        "too large for a wrangler file; check the path\n"
    )


def test_config_at_size_limit_is_read(tmp_path):
    config = tmp_path / "wrangler.toml"
    head = 'name = "w"\n'
    config.write_text(
        head + "#" * (wrangler.MAX_CONFIG_BYTES - len(head)), encoding="utf-8"
    )
    assert wrangler.resolve(config).name == "w"


def test_config_windows_newlines_are_read(tmp_path):
    config = tmp_path / "wrangler.toml"
    config.write_bytes(b'name = "w"\r\naccount_id = "a"\r\n')
    assert wrangler.resolve(config).account_id == "a"


# -- wording ---------------------------------------------------------------------


async def accounts_note(server: FaultServer, rows: list[dict]) -> list[str]:
    server.enqueue(Reply(body=envelope(rows)), path_contains="/accounts")
    async with api.CloudflareClient(
        server.base_url, Credential.api_token("t", "test")
    ) as client:
        await client.list_accounts()
        return client.account_notes()


async def test_left_out_accounts_in_plural(api_server):
    good = {"id": ACCOUNT, "name": "Good"}
    one_left_out = await accounts_note(api_server, [good, {"id": "x"}])
    two_left_out = await accounts_note(
        api_server, [good, {"id": "x"}, {"name": "no id"}]
    )
    assert one_left_out == [
        "left out 1 account whose id is missing or invalid in the API's reply"
    ]
    assert two_left_out == [
        "left out 2 accounts whose id is missing or invalid in the API's reply"
    ]


def test_left_out_worker_in_singular(api_server, capsys, monkeypatch):
    rows = [{"id": "good-worker"}, {"id": "bad/worker"}]
    api_server.enqueue(Reply(body=envelope(rows)), path_contains="/workers/scripts")
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "robustness-token-0123456789")
    code = main(
        [
            "--list-scripts",
            "--format",
            "json",
            "--base-url",
            api_server.base_url,
            "--account",
            ACCOUNT,
        ]
    )
    err = capsys.readouterr().err
    assert code == 0
    assert (
        "cf-livetail: left out 1 Worker whose name is missing or invalid in the "
        "API's reply\n"
    ) in err
