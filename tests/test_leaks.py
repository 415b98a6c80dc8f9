"""Leak scan: run the app with a known secret, then search everything it wrote.

The API is a loopback FaultServer that accepts any credential. Some of its
replies quote the secret back, the way a reflecting proxy or a verbose error
page would, so that the secret reaches the code paths that must mask it.
A leak is any 16-character piece of the secret, so that a secret cut short
by a display limit still counts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import sqlite3
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from textual.widgets import Input

from tests.apphelpers import wait_for
from tests.conftest import cli_command, cli_env
from tests.faultserver import FaultServer, Reply, envelope
from tests.test_stream import FAST, HostileServer, numbered, send_then_hang
from tui import logsetup, paths, settings
from tui.app import LiveTailApp
from tui.cli import build_parser, main, resolve_options
from tui.credentials import Credential
from tui.logsetup import MASK
from tui.screens.session import SessionScreen
from tui.screens.token import TokenScreen
from tui.stream import LiveStream

ACCOUNT = "0123456789abcdef0123456789abcdef"
SCRIPT = "leak-check-worker"
EMAIL = "leak-check@example.com"
WINDOW = 16
RUN_TIMEOUT = 30.0


@dataclass
class Secret:
    """A credential under test and the environment that passes it to the app."""

    kind: str
    value: str
    env: dict[str, str]
    # How a reflecting proxy would quote the credential back in an error.
    echo: str

    def credential(self) -> Credential:
        if self.kind == "global-key":
            return Credential.global_key(EMAIL, self.value, "CLOUDFLARE_API_KEY")
        return Credential.api_token(self.value, "CLOUDFLARE_API_TOKEN")


def make_secret(kind: str) -> Secret:
    if kind == "global-key":
        value = secrets.token_hex(18) + "f"
        env = {"CLOUDFLARE_API_KEY": value, "CLOUDFLARE_EMAIL": EMAIL}
        return Secret(kind, value, env, f"X-Auth-Key: {value}")
    value = "leakcanary-" + secrets.token_hex(20)
    return Secret(kind, value, {"CLOUDFLARE_API_TOKEN": value}, f"Bearer {value}")


def fragments(secret: str) -> list[bytes]:
    """Return every WINDOW-long piece of the secret, as bytes."""
    encoded = secret.encode()
    return [encoded[i : i + WINDOW] for i in range(len(encoded) - WINDOW + 1)]


def leaks(secret: str, places: dict[str, bytes | str]) -> list[str]:
    """Return the names of the places that hold a piece of ``secret``."""
    pieces = fragments(secret)
    found = []
    for name, content in places.items():
        data = content.encode() if isinstance(content, str) else content
        if any(piece in data for piece in pieces):
            found.append(name)
    return found


def tree(root: Path, skip: tuple[Path, ...] = ()) -> dict[str, bytes]:
    """Read every file under ``root`` as raw bytes, keyed by its path."""
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path not in skip:
            files[str(path.relative_to(root))] = path.read_bytes()
    return files


@dataclass
class Run:
    """One finished subprocess run of the app."""

    argv: list[str]
    code: int
    stdout: str
    stderr: str
    # Every /proc/<pid>/cmdline read while the process ran.
    cmdlines: list[bytes] = field(default_factory=list)


def run_app(argv: list[str], env: dict[str, str], cwd: Path) -> Run:
    """Run ``python -m tui ARGV`` and sample its argv from /proc while it runs."""
    process = subprocess.Popen(
        cli_command(*argv),
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    cmdlines = []
    deadline = time.monotonic() + RUN_TIMEOUT
    proc_file = Path(f"/proc/{process.pid}/cmdline")
    while process.poll() is None and time.monotonic() < deadline:
        try:
            cmdline = proc_file.read_bytes()
        except OSError:
            break
        # A process that has exited but is not yet reaped shows an empty argv.
        if cmdline:
            cmdlines.append(cmdline)
        time.sleep(0.05)
    stdout, stderr = process.communicate(timeout=RUN_TIMEOUT)
    return Run(argv, process.returncode, stdout.decode(), stderr.decode(), cmdlines)


def outputs(runs: list[Run]) -> dict[str, bytes | str]:
    """Name each run's stdout, stderr and sampled argv for the scan."""
    places: dict[str, bytes | str] = {}
    for number, run in enumerate(runs, 1):
        label = f"run {number} ({' '.join(run.argv[:2])})"
        places[f"{label} stdout"] = run.stdout
        places[f"{label} stderr"] = run.stderr
        for index, cmdline in enumerate(run.cmdlines):
            places[f"{label} /proc cmdline #{index}"] = cmdline
    return places


def server_error_echo(secret: Secret) -> Reply:
    return Reply.envelope_error(500, 10001, f"upstream rejected {secret.echo}")


def accounts_page() -> Reply:
    result = [{"id": ACCOUNT, "name": "Leak Check"}]
    body = envelope(result)
    body["result_info"] = {"page": 1, "per_page": 50, "count": 1, "total_pages": 1}
    return Reply(200, body=body)


def history_messages(database: Path) -> list[str]:
    connection = sqlite3.connect(database)
    try:
        return [row[0] for row in connection.execute("SELECT message FROM beats")]
    finally:
        connection.close()


# Secrets and log handlers registered by in-process runs stay in their test.
pytestmark = pytest.mark.usefixtures("fresh_secrets", "restore_logging")


@pytest.fixture
def api() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


# -- the scan itself -------------------------------------------------------------


def test_scan_finds_planted_secret(tmp_path):
    """Control: the scan reports a secret, or a piece of one, where it is."""
    secret = make_secret("token")
    root = tmp_path / "scanned"
    (root / "deep" / "er").mkdir(parents=True)
    (root / "clean.txt").write_text("nothing here", encoding="utf-8")
    assert leaks(secret.value, tree(root)) == []

    (root / "deep" / "er" / "planted.db").write_bytes(
        b"\x00\x01" + secret.value.encode() + b"\xff"
    )
    (root / "cut.log").write_text(f"... {secret.value[:WINDOW]}…", encoding="utf-8")
    found = leaks(secret.value, tree(root))
    assert found == ["cut.log", "deep/er/planted.db"]
    assert leaks(secret.value, {"stderr": f"x {secret.value} y"}) == ["stderr"]
    assert leaks(secret.value, {"masked": f"x {MASK} y"}) == []


# -- command-line runs -------------------------------------------------------------


@pytest.mark.parametrize("kind", ["token", "global-key"])
def test_cli_runs_leak_nothing(api, isolated_dirs, kind):
    secret = make_secret(kind)
    home = isolated_dirs
    env = cli_env(home, **secret.env)
    base = ["--base-url", api.base_url]
    runs = []

    # A headless session of three beats. The first beat fails and quotes the secret.
    api.enqueue(server_error_echo(secret), path_contains="/heartbeat")
    headless = ["--headless", f"--account={ACCOUNT}", f"--script={SCRIPT}"]
    runs.append(run_app([*headless, "--interval=1", "--count=3", *base], env, home))

    api.enqueue(accounts_page(), path_contains="/accounts")
    runs.append(run_app(["--list-accounts", *base], env, home))

    # Failed verification: every verify call gets 401 quoting the secret.
    auth_failure = Reply.envelope_error(
        401, 10000, f"Authentication error: {secret.echo}"
    )
    api.set_default(auth_failure)
    runs.append(run_app([*headless, "--count=1", *base], env, home))
    api.set_default(Reply())

    # --debug logs the body of each failed reply.
    api.enqueue(server_error_echo(secret), path_contains="/accounts")
    runs.append(run_app(["--list-accounts", "--debug", *base], env, home))

    beats_run, list_run, auth_failed_run, debug_run = runs
    assert beats_run.code == 0, beats_run.stderr
    beat_lines = [json.loads(line) for line in beats_run.stdout.splitlines()]
    assert [line["ok"] for line in beat_lines] == [False, True, True]
    assert MASK in beat_lines[0]["message"]
    assert list_run.code == 0, list_run.stderr
    assert json.loads(list_run.stdout) == {"id": ACCOUNT, "name": "Leak Check"}
    assert auth_failed_run.code == 2
    assert MASK in auth_failed_run.stderr
    assert debug_run.code == 2
    assert MASK in debug_run.stderr
    assert all(run.cmdlines for run in runs)

    # The scan covers what the runs wrote: log, history (with -wal), settings.
    files = tree(home)
    log_text = paths.log_file().read_text(encoding="utf-8")
    assert "body:" in log_text
    assert MASK in log_text
    assert any(MASK in message for message in history_messages(paths.history_db()))
    assert str(paths.history_db().relative_to(home)) in files

    assert leaks(secret.value, files) == []
    assert leaks(secret.value, outputs(runs)) == []

    # Control: the same scan finds the secret once it is in the tree.
    planted = paths.log_dir() / "planted.log"
    planted.write_text(secret.value, encoding="utf-8")
    assert leaks(secret.value, tree(home)) == [str(planted.relative_to(home))]


def test_token_file_run_leaks_nothing(api, isolated_dirs, tmp_path):
    secret = make_secret("token")
    token_file = tmp_path / "outside-home" / "token"
    token_file.parent.mkdir()
    token_file.write_text(secret.value + "\n", encoding="utf-8")
    env = cli_env(isolated_dirs)

    api.enqueue(accounts_page(), path_contains="/accounts")
    argv = ["--list-accounts", f"--api-token-file={token_file}"]
    run = run_app([*argv, "--base-url", api.base_url], env, isolated_dirs)

    assert run.code == 0, run.stderr
    assert api.requests[-1].headers["authorization"] == f"Bearer {secret.value}"
    assert str(token_file).encode() in run.cmdlines[0]
    assert leaks(secret.value, outputs([run])) == []
    assert leaks(secret.value, tree(isolated_dirs)) == []


def test_secret_cut_by_message_limit(api, capsys, isolated_dirs, monkeypatch):
    secret = make_secret("token")
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", secret.value)
    # Padding puts the 200-character cut in the middle of the quoted secret.
    padding = "x" * (200 - len("HTTP 500 · 10001: ") - len("Bearer ") - 20)
    echo = Reply.envelope_error(500, 10001, f"{padding}Bearer {secret.value}")
    api.enqueue(echo, path_contains="/heartbeat")
    argv = ["--headless", f"--account={ACCOUNT}", f"--script={SCRIPT}", "--count=1"]

    code = main([*argv, "--base-url", api.base_url])
    stdout = capsys.readouterr().out

    assert code == 0
    assert leaks(secret.value, {"stdout": stdout}) == []
    assert leaks(secret.value, tree(isolated_dirs)) == []


# -- the TUI -----------------------------------------------------------------------


def build_app(api: FaultServer, credential: Credential | None) -> LiveTailApp:
    """Build the app as the command line would for `--account A --script S`."""
    argv = ["--base-url", api.base_url, "--interval", "1"]
    argv += ["--account", ACCOUNT, "--script", SCRIPT]
    options = resolve_options(build_parser().parse_args(argv), dict(os.environ))
    if credential is not None:
        logsetup.register_secret(credential.secret)
    return LiveTailApp(options, credential, settings.load())


def serve_pickers(api: FaultServer) -> None:
    api.enqueue(accounts_page(), path_contains="/accounts")
    scripts = Reply(200, body=envelope([{"id": SCRIPT}]))
    api.enqueue(scripts, path_contains="/workers/scripts")


async def wait_until(condition, timeout: float = 8.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.05)
    return condition()


def session_beats(app: LiveTailApp) -> int:
    if not isinstance(app.screen, SessionScreen) or app.session is None:
        return 0
    return app.session.beats_sent


@pytest.mark.parametrize("kind", ["token", "global-key"])
async def test_tui_session_leaks_nothing(api, isolated_dirs, tmp_path, kind):
    secret = make_secret(kind)
    logsetup.setup_logging(debug=True)
    serve_pickers(api)
    app = build_app(api, secret.credential())
    async with app.run_test(size=(140, 40)) as pilot:
        assert await wait_until(lambda: session_beats(app) >= 2)
        await pilot.pause()
        screenshot = Path(app.save_screenshot("session.svg", str(tmp_path)))
    svg = screenshot.read_text(encoding="utf-8")

    assert SCRIPT in svg
    assert "Leak" in svg
    assert paths.settings_file().is_file()
    assert leaks(secret.value, {"screenshot": svg}) == []
    assert leaks(secret.value, tree(isolated_dirs)) == []


async def test_tui_quoted_secret_masked_on_screen(api, isolated_dirs, tmp_path):
    secret = make_secret("token")
    serve_pickers(api)
    api.enqueue(server_error_echo(secret), path_contains="/heartbeat")
    app = build_app(api, secret.credential())
    async with app.run_test(size=(200, 40)) as pilot:
        assert await wait_until(lambda: session_beats(app) >= 1)
        await pilot.pause()
        screenshot = Path(app.save_screenshot("echo.svg", str(tmp_path)))
    svg = screenshot.read_text(encoding="utf-8")

    assert leaks(secret.value, {"screenshot": svg}) == []


async def test_token_screen_masks_typed_token(api, isolated_dirs, tmp_path):
    secret = make_secret("token")
    serve_pickers(api)
    app = build_app(api, None)
    async with app.run_test(size=(140, 40)) as pilot:
        assert await wait_until(lambda: isinstance(app.screen, TokenScreen))
        await pilot.press(*secret.value)
        typed = Path(app.save_screenshot("typed.svg", str(tmp_path)))
        field = app.screen.query_one(Input)
        assert field.value == secret.value

        # Control: the same field unmasked puts the token in the screenshot.
        field.password = False
        await pilot.pause()
        unmasked = Path(app.save_screenshot("unmasked.svg", str(tmp_path)))
        field.password = True
        await pilot.pause()

        await pilot.press("enter")
        assert await wait_until(lambda: not isinstance(app.screen, TokenScreen))
        await pilot.pause()
        after = Path(app.save_screenshot("after.svg", str(tmp_path)))

    svgs = {path.name: path.read_text(encoding="utf-8") for path in (typed, after)}
    assert leaks(secret.value, svgs) == []
    assert leaks(secret.value, {"unmasked": unmasked.read_text("utf-8")}) != []

    # The token is saved where it belongs, and only there.
    saved = paths.credentials_file()
    assert secret.value in saved.read_text(encoding="utf-8")
    assert leaks(secret.value, tree(isolated_dirs, skip=(saved,))) == []


def test_unwritable_log_dir_leaks_nothing(api, isolated_dirs):
    """Without a log file, warnings must not fall through to stderr unmasked."""
    secret = make_secret("token")
    blocker = isolated_dirs / "state-is-a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    env = cli_env(isolated_dirs, XDG_STATE_HOME=str(blocker), **secret.env)
    api.enqueue(server_error_echo(secret), path_contains="/heartbeat")
    argv = ["--headless", f"--account={ACCOUNT}", f"--script={SCRIPT}", "--count=1"]

    run = run_app([*argv, "--base-url", api.base_url], env, isolated_dirs)

    assert run.code == 0, run.stderr
    assert MASK in run.stdout
    assert leaks(secret.value, outputs([run])) == []


# -- scrubbing and the log file ------------------------------------------------------


def test_scrub_masks_nested_secrets_whole():
    """A secret that starts another must not be masked first, leaving a tail."""
    base = "nested-secret-0123456789"
    tails = ["", "-a", "-ab", "-abc", "-abcd", "-abcde", "-abcdef"]
    for tail in tails:
        logsetup.register_secret(base + tail)
    for tail in tails:
        assert logsetup.scrub(f"<{base}{tail}>") == f"<{MASK}>"


def test_scrub_ignores_short_values():
    logsetup.register_secret("abc")
    logsetup.register_secret("")
    logsetup.register_secret(None)
    assert logsetup.scrub("abc abc") == "abc abc"


def test_log_file_scrubs_messages_and_tracebacks(tmp_path):
    secret = make_secret("token")
    logsetup.register_secret(secret.value)
    log_path = logsetup.setup_logging(path=tmp_path / "logs" / "app.log")
    assert log_path is not None
    log = logging.getLogger("tui.leakcheck")
    log.warning("header was %s", secret.echo)
    try:
        raise RuntimeError(f"failed with {secret.echo}")
    except RuntimeError:
        log.exception("caught")
    for handler in logging.getLogger().handlers:
        handler.flush()

    text = log_path.read_text(encoding="utf-8")
    assert text.count(MASK) == 2
    assert "RuntimeError" in text
    assert leaks(secret.value, {"log": text}) == []


def test_rotated_log_files_are_private(tmp_path):
    """Files opened after a rotation get 0600 too, whatever the umask."""
    log_path = logsetup.setup_logging(path=tmp_path / "logs" / "app.log")
    assert log_path is not None
    (handler,) = [
        h for h in logging.getLogger().handlers if getattr(h, "_cf_livetail", False)
    ]
    handler.maxBytes = 200
    old_umask = os.umask(0o022)
    try:
        for number in range(20):
            logging.getLogger("tui.leakcheck").warning("line %d %s", number, "x" * 40)
    finally:
        os.umask(old_umask)

    files = sorted(log_path.parent.iterdir())
    assert [path.name for path in files] == [
        "app.log",
        "app.log.1",
        "app.log.2",
        "app.log.3",
    ]
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_existing_log_file_made_private(tmp_path):
    log_path = tmp_path / "app.log"
    log_path.write_text("old line\n", encoding="utf-8")
    log_path.chmod(0o644)
    logsetup.setup_logging(path=log_path)
    assert stat.S_IMODE(log_path.stat().st_mode) == 0o600
    assert log_path.read_text(encoding="utf-8") == "old line\n"


async def test_debug_log_leaves_out_live_tail_url(tmp_path):
    """The wsUrl's path and query give access to the stream, so --debug omits them."""
    session = secrets.token_hex(16)
    token = secrets.token_hex(24)
    log_path = logsetup.setup_logging(debug=True, path=tmp_path / "logs" / "app.log")
    assert log_path is not None

    async with HostileServer(send_then_hang(numbered(1, 3))) as server:
        stream = LiveStream(server.url(f"/ws/{session}?token={token}"), **FAST)
        stream.start()
        try:
            assert await wait_for(lambda: stream.received >= 3)
        finally:
            await stream.stop()
    for handler in logging.getLogger().handlers:
        handler.flush()

    text = log_path.read_text(encoding="utf-8")
    assert f"live-tail stream open at ws://127.0.0.1:{server.port}" in text
    assert token not in text
    assert session not in text
    assert "token=" not in text
