"""Bad input found by trying the app as a new user: each gets a clear message."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.apphelpers import wait_for
from tests.conftest import cli_command, cli_env
from tests.faultserver import FaultServer, Reply
from tui import envelope as env
from tui.api import CloudflareClient, check_base_url
from tui.credentials import Credential
from tui.demo import data
from tui.demo.server import DEMO_TOKEN
from tui.engine import HeartbeatSession, State, parse_interval
from tui.errors import UserError
from tui.paths import aside_name

ACCOUNT = data.ACCOUNTS[0]["id"]
SCRIPT = data.SCRIPTS_BY_ACCOUNT_ID[ACCOUNT][0]["id"]


def envelope(result) -> dict:
    return {"success": True, "errors": [], "messages": [], "result": result}


async def test_api_names_are_cleaned():
    hostile = "Evil \x1b[2J\x1b]0;T\x07 name"
    with FaultServer().start() as server:
        server.enqueue(
            Reply(body=envelope([{"id": "a" * 32, "name": hostile}])),
            path_contains="/accounts",
        )
        async with CloudflareClient(
            server.base_url, Credential.api_token("t", "test")
        ) as client:
            accounts = await client.list_accounts()
    assert len(accounts) == 1
    assert "\x1b" not in accounts[0].name
    assert "\x07" not in accounts[0].name
    assert accounts[0].name.startswith("Evil ?[2J")


async def test_worker_names_the_app_rejects_are_left_out():
    rows = [{"id": "good-worker"}, {"id": "../../user/tokens/verify"}, {"id": "x\x1b"}]
    with FaultServer().start() as server:
        server.enqueue(Reply(body=envelope(rows)), path_contains="/workers/scripts")
        async with CloudflareClient(
            server.base_url, Credential.api_token("t", "test")
        ) as client:
            scripts = await client.list_scripts(ACCOUNT)
            skipped = client.skipped_scripts
    assert [s.id for s in scripts] == ["good-worker"]
    assert skipped == 2


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:99999/client/v4",
        "http://127.0.0.1:-1/client/v4",
        "http://127.0.0.1:abc/client/v4",
        "http://[::1/client/v4",
        "http://127.0.0.1/client\n/v4",
        "http://127.0.0.1:0/client/v4",
    ],
)
def test_malformed_base_urls_are_user_errors(url):
    with pytest.raises(UserError) as caught:
        check_base_url(url)
    assert "invalid API base URL" in str(caught.value)


def test_deeply_nested_reply_is_a_bad_response():
    body = b"[" * 100_000 + b"]" * 100_000
    result = env.classify(200, body, {}, 1.0)
    assert result.outcome == env.BAD_RESPONSE
    assert "nested too deeply" in result.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30", 30.0), ("2.5", 2.5), (" 60 ", 60.0), ("3600", 3600.0)],
)
def test_interval_parsing_accepts_plain_seconds(text, expected):
    assert parse_interval(text) == expected


@pytest.mark.parametrize(
    "text", ["0", "5000", "abc", "-1", "1e3", "nan", "", "１０", "1_0"]
)
def test_interval_parsing_rejects_the_rest(text):
    with pytest.raises(ValueError):
        parse_interval(text)


def test_aside_names_never_collide(tmp_path):
    target = tmp_path / "history.db"
    first = aside_name(target, "corrupt")
    first.write_text("one")
    second = aside_name(target, "corrupt")
    assert second != first
    assert not second.exists()


def test_headless_stops_quietly_when_the_reader_goes_away(demo, isolated_dirs):
    command = " ".join(
        cli_command(
            "--headless",
            "--base-url",
            demo.base_url,
            "--account",
            ACCOUNT,
            "--script",
            SCRIPT,
            "--interval",
            "1",
        )
    )
    result = subprocess.run(
        f"{command} | head -1",
        shell=True,
        env=cli_env(isolated_dirs, CLOUDFLARE_API_TOKEN=DEMO_TOKEN),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert json.loads(result.stdout)["outcome"] == "ok"
    assert "error" not in result.stderr


def test_headless_full_disk_is_one_line(demo, isolated_dirs):
    if not Path("/dev/full").exists():
        pytest.fail("/dev/full is needed for this test")
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            cli_command(
                "--headless",
                "--base-url",
                demo.base_url,
                "--account",
                ACCOUNT,
                "--script",
                SCRIPT,
                "--interval",
                "1",
                "--count",
                "2",
            ),
            env=cli_env(isolated_dirs, CLOUDFLARE_API_TOKEN=DEMO_TOKEN),
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2
    assert "cannot write to stdout" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_refuses_a_base_url(isolated_dirs):
    result = subprocess.run(
        cli_command("--demo", "--headless", "--base-url", "http://127.0.0.1:1"),
        env=cli_env(isolated_dirs),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "leave out --base-url" in result.stderr


async def test_beat_now_while_paused_stays_paused(demo):
    client = CloudflareClient(demo.base_url, Credential.api_token(DEMO_TOKEN, "t"))
    session = HeartbeatSession(client, ACCOUNT, "Acme", SCRIPT, 30)
    session.start()
    try:
        assert await wait_for(lambda: session.beats_sent == 1)
        session.pause()
        assert await wait_for(lambda: session.state is State.PAUSED)
        session.beat_now()
        assert await wait_for(lambda: session.beats_sent == 2)
        assert await wait_for(lambda: session.state is State.PAUSED)
    finally:
        await session.stop()


async def test_token_screen_saves_only_a_verified_token(demo):
    from tests.apphelpers import make_app
    from tui import paths
    from tui.screens.token import TokenScreen

    app = make_app(demo)
    async with app.run_test(size=(100, 30)) as pilot:
        app.push_screen(TokenScreen())
        assert await wait_for(lambda: isinstance(app.screen, TokenScreen))
        await pilot.press(*"wrong-token", "enter")
        message = app.screen.query_one("#picker-message")
        assert await wait_for(lambda: "not saved" in str(message.render()))
        assert not paths.credentials_file().exists()
        await pilot.press(*DEMO_TOKEN, "enter")
        assert await wait_for(lambda: paths.credentials_file().exists())
