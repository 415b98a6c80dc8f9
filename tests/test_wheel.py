"""Build the wheel, install it in a fresh venv, and run the app from there."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

from tests.conftest import REPO, cli_env
from tui.demo import data

ACCOUNT = data.ACCOUNTS[0]["id"]
SCRIPT = data.SCRIPTS_BY_ACCOUNT_ID[ACCOUNT][0]["id"]

# Runs inside the fresh venv: mount the app on the demo API and check that
# the packaged stylesheet was found and applied.
PILOT_SCRIPT = """
import asyncio, os, sys
from tui.app import LiveTailApp, stylesheet_path
from tui.cli import build_parser, resolve_options
from tui.credentials import Credential
from tui.demo.server import DEMO_TOKEN, DemoServer
from tui import settings

path = stylesheet_path()
assert "site-packages" in str(path), path
assert path.is_file(), path

async def main():
    with DemoServer(latency=(0, 0)) as server:
        args = build_parser().parse_args(["--base-url", server.base_url])
        args.interval = 30.0
        options = resolve_options(args, dict(os.environ))
        credential = Credential.api_token(DEMO_TOKEN, "the demo API")
        app = LiveTailApp(options, credential, settings.load())
        async with app.run_test(size=(80, 24)) as pilot:
            for _ in range(100):
                if getattr(app.screen, "choices", None):
                    break
                await pilot.pause(0.05)
            listed = app.screen.query_one("#picker-list")
            assert listed.styles.border.top[0] == "round", listed.styles.border
            print("listed", len(app.screen.choices))

asyncio.run(main())
"""


def test_wheel_installs_and_runs(tmp_path: Path, isolated_dirs: Path):
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheels = list(dist.glob("cf_livetail-*.whl"))
    assert len(wheels) == 1
    with zipfile.ZipFile(wheels[0]) as archive:
        names = archive.namelist()
    assert "tui/styles/app.tcss" in names

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(wheels[0])],
        check=True,
        capture_output=True,
        timeout=300,
    )
    env = cli_env(isolated_dirs)
    headless = subprocess.run(
        [
            str(env_dir / "bin" / "cf-livetail"),
            "--demo",
            "--headless",
            "--account",
            ACCOUNT,
            "--script",
            SCRIPT,
            "--count",
            "1",
            "--interval",
            "1",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert headless.returncode == 0, headless.stderr
    assert json.loads(headless.stdout)["outcome"] == "ok"

    pilot = subprocess.run(
        [str(python), "-c", PILOT_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert pilot.returncode == 0, pilot.stderr
    assert f"listed {len(data.ACCOUNTS)}" in pilot.stdout
