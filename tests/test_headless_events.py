"""Headless mode with --events, and filters from prepare call to the stream."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.apphelpers import wait_for
from tests.conftest import cli_command, cli_env
from tui.api import CloudflareClient
from tui.cli import build_parser, resolve_options
from tui.credentials import Credential
from tui.demo import data
from tui.demo.server import DEMO_TOKEN, DemoServer
from tui.engine import HeartbeatSession
from tui.errors import UserError
from tui.stream import LiveStream

ACCOUNT = data.ACCOUNTS[0]["id"]
SCRIPT = data.SCRIPTS_BY_ACCOUNT_ID[ACCOUNT][0]["id"]
HEARTBEAT_KEYS = {
    "time": str,
    "account_id": str,
    "script": str,
    "ok": bool,
    "http_status": int,
    "latency_ms": float,
    "outcome": str,
    "message": str,
}
EVENT_KEYS = {"time": str, "level": str, "message": str, "raw": dict}


def run_cli(home, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        cli_command(*args),
        env=cli_env(home, **env),
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )


def test_demo_prints_heartbeats_and_events(isolated_dirs):
    result = run_cli(
        isolated_dirs,
        "--demo",
        "--headless",
        "--events",
        "--count",
        "2",
        "--interval",
        "1",
        "--account",
        ACCOUNT,
        "--script",
        SCRIPT,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    kinds = [line["kind"] for line in lines]
    assert kinds.count("heartbeat") == 2
    assert kinds.count("event") >= 1
    # The demo sends a first event as soon as the stream opens, which is
    # after the first beat and before the second.
    assert kinds[0] == "heartbeat"
    assert kinds[-1] == "heartbeat"
    for line in lines:
        if line["kind"] == "heartbeat":
            for key, kind in HEARTBEAT_KEYS.items():
                assert isinstance(line[key], kind), key
            assert line["outcome"] == "ok"
        else:
            for key, kind in EVENT_KEYS.items():
                assert isinstance(line[key], kind), key
            assert line["time"].endswith("Z")
            assert "outcome" in line
            assert line["raw"]["$metadata"]["service"] == SCRIPT
    assert "event stream open: ws://127.0.0.1:" in result.stderr
    assert DEMO_TOKEN not in result.stdout + result.stderr


def test_events_flag_needs_headless():
    args = build_parser().parse_args(["--events", "--account", ACCOUNT])
    with pytest.raises(UserError, match="--events works only with --headless"):
        resolve_options(args, {})


def test_plain_headless_does_not_load_websockets(demo, isolated_dirs):
    code = (
        "import sys\n"
        "from tui import cli\n"
        "status = cli.main(sys.argv[1:])\n"
        "sys.stderr.write(f'websockets loaded: {\"websockets\" in sys.modules}\\n')\n"
        "sys.exit(status)\n"
    )
    args = [
        "--headless",
        "--count",
        "1",
        "--base-url",
        demo.base_url,
        "--account",
        ACCOUNT,
        "--script",
        SCRIPT,
    ]
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=cli_env(isolated_dirs, CLOUDFLARE_API_TOKEN=DEMO_TOKEN),
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert "websockets loaded: False" in result.stderr


WARN_OR_EXCEPTION = [
    {"key": "$metadata.level", "operation": "eq", "type": "string", "value": "warn"},
    {
        "key": "$workers.outcome",
        "operation": "eq",
        "type": "string",
        "value": "exception",
    },
]


async def test_filters_round_trip():
    with DemoServer(latency=(0.0, 0.0), seed=11, event_rate=800) as demo:
        credential = Credential.api_token(DEMO_TOKEN, "the demo API")
        client = CloudflareClient(demo.base_url, credential)
        session = HeartbeatSession(
            client,
            ACCOUNT,
            "Acme",
            SCRIPT,
            30,
            filters=WARN_OR_EXCEPTION,
            filter_combination="or",
        )
        url = await session.refresh_ws_url()
        assert url is not None
        stream = LiveStream(url, refresh_url=session.refresh_ws_url)
        stream.start()
        try:
            assert await wait_for(lambda: stream.received >= 20)
        finally:
            await stream.stop()
            await session.stop()
        prepares = [r for r in demo.requests if r.path.endswith("/live-tail")]
        body = prepares[-1].json()
        tail = demo.live_tail.sessions()[0]
        generated = tail.generator.count
    assert body["filters"] == WARN_OR_EXCEPTION
    assert body["filterCombination"] == "or"
    assert tail.filters == WARN_OR_EXCEPTION
    assert tail.combination == "or"
    levels = {line.raw["$metadata"].get("level") for line in stream.events}
    outcomes = {line.raw.get("$workers", {}).get("outcome") for line in stream.events}
    for line in stream.events:
        raw = line.raw
        is_warning = raw["$metadata"].get("level") == "warn"
        is_exception = raw.get("$workers", {}).get("outcome") == "exception"
        assert is_warning or is_exception, raw
    assert "warn" in levels
    assert "exception" in outcomes
    # The filters dropped most of what the demo generated.
    assert generated > 3 * stream.received


def fetch_worker() -> tuple[str, str]:
    """Return an account and a Worker whose only handler is fetch."""
    for account in data.ACCOUNTS:
        for script in data.SCRIPTS_BY_ACCOUNT_ID[account["id"]]:
            if data.WORKER_HANDLERS[script["id"]] == ("fetch",):
                return account["id"], script["id"]
    raise AssertionError("the demo data has no fetch-only Worker")


async def test_demo_stream_has_every_kind_of_event():
    account, script = fetch_worker()
    with DemoServer(latency=(0.0, 0.0), seed=5, event_rate=2000) as demo:
        credential = Credential.api_token(DEMO_TOKEN, "the demo API")
        async with CloudflareClient(demo.base_url, credential) as client:
            result = await client.prepare_live_tail(account, script)
        stream = LiveStream(result.extra["ws_url"])
        stream.start()
        try:
            assert await wait_for(lambda: stream.received >= 1500)
        finally:
            await stream.stop()
    lines = list(stream.events)
    levels = {line.level for line in lines}
    assert {"log", "info", "warn", "error", "debug"} <= levels
    assert any(line.exception for line in lines)
    assert any(line.message.startswith("scheduled ") for line in lines)
    requests = [
        line.raw["$workers"]["event"]["request"]
        for line in lines
        if "request" in line.raw.get("$workers", {}).get("event", {})
    ]
    assert {"GET", "POST"} <= {request["method"] for request in requests}
    statuses = {
        line.raw["$workers"]["event"].get("response", {}).get("status")
        for line in lines
        if line.raw.get("$workers", {}).get("eventType") == "fetch"
    }
    assert {200, 404, 500} <= statuses
    # Console logs share the requestId of their invocation.
    invocations = {line.request_id for line in lines if line.outcome is not None}
    logs = [line for line in lines if line.outcome is None]
    linked = [line for line in logs if line.request_id in invocations]
    assert len(linked) > 0.9 * len(logs)
