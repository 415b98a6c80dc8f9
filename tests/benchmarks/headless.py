"""Headless start-up and CPU per beat, ours against Cloudflare's Python SDK.

Both programs run as child processes against a BeatServer on loopback, which
stamps each request with time.monotonic() when its head has been read.
Start-up is the time from just before the child is spawned to the arrival of
its first heartbeat. CPU per beat is the child's CPU time between two points
half an interval after beat 2 and after beat N-1 (both idle moments),
divided by the N-3 beats in between.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.benchmarks import procstat
from tests.benchmarks.beatserver import BeatServer
from tests.benchmarks.common import CF_LIVETAIL, app_env, demo_target

SDK_VENV = Path(__file__).resolve().parent / ".sdk-venv"
SDK_PYTHON = SDK_VENV / "bin" / "python"
SDK_LOOP = Path(__file__).resolve().parent / "sdk_loop.py"
FLOOR_LOOP = Path(__file__).resolve().parent / "floor_beat.py"
HEARTBEAT_SUFFIX = "/live-tail/heartbeat"


@dataclass
class LoopRun:
    """One run of a heartbeat loop: start-up, CPU per beat and peak memory."""

    first_beat_s: float
    cpu_per_beat_ms: float
    peak_rss_mib: float


def ensure_sdk_venv() -> str:
    """Create the SDK's own virtual environment if needed; return its version.

    The SDK is installed with pip from PyPI into tests/benchmarks/.sdk-venv,
    never into the app's environment. Raises RuntimeError if that fails.
    """
    probe = [str(SDK_PYTHON), "-c", "import cloudflare; print(cloudflare.__version__)"]
    if SDK_PYTHON.exists():
        found = subprocess.run(probe, capture_output=True, text=True, check=False)
        if found.returncode == 0:
            return found.stdout.strip()
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(SDK_VENV)],
        [str(SDK_PYTHON), "-m", "pip", "install", "-q", "cloudflare"],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(
                f"creating the SDK environment failed: {' '.join(step)} exited "
                f"{done.returncode}: {done.stderr.strip()[-500:]}"
            )
    found = subprocess.run(probe, capture_output=True, text=True, check=False)
    if found.returncode != 0:
        raise RuntimeError(f"the SDK does not import: {found.stderr.strip()[-500:]}")
    return found.stdout.strip()


def _heartbeat_arrivals(server: BeatServer) -> list[float]:
    return [arrival.arrived_at for arrival in server.arrivals(HEARTBEAT_SUFFIX)]


def _wait_for_beats(
    server: BeatServer, process: subprocess.Popen[bytes], count: int, timeout: float
) -> list[float]:
    """Poll until ``count`` heartbeats arrived; return their arrival times."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        arrivals = _heartbeat_arrivals(server)
        if len(arrivals) >= count:
            return arrivals
        if process.poll() is not None:
            break
        time.sleep(0.005)
    raise RuntimeError(
        f"{process.args!r} sent {len(_heartbeat_arrivals(server))} of {count} "
        f"heartbeats within {timeout:g} s (exit status {process.poll()})"
    )


def _sleep_until(moment: float) -> None:
    delay = moment - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def measure_loop(argv: list[str], env: dict[str, str], count: int, interval: float):
    """Run one heartbeat loop of ``count`` beats; return a LoopRun."""
    if count < 4:
        raise ValueError(f"count {count} is too small: CPU per beat needs 4 or more")
    with tempfile.TemporaryDirectory(prefix="cf-bench-") as tmp, BeatServer() as server:
        argv = [arg.replace("{base_url}", server.base_url) for arg in argv]
        out = Path(tmp, "stdout")
        with out.open("wb") as stdout, Path(tmp, "stderr").open("wb") as stderr:
            started = time.monotonic()
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                env={**env, "HOME": tmp, "XDG_DATA_HOME": tmp, "XDG_STATE_HOME": tmp},
                cwd=tmp,
            )
            try:
                timeout = 30 + count * interval
                arrivals = _wait_for_beats(server, process, 2, timeout)
                _sleep_until(arrivals[1] + interval / 2)
                cpu_start = procstat.cpu_seconds(process.pid)
                arrivals = _wait_for_beats(server, process, count - 1, timeout)
                _sleep_until(arrivals[count - 2] + interval / 2)
                cpu_end = procstat.cpu_seconds(process.pid)
                peak = procstat.memory_kib(process.pid)["VmHWM"]
                code = process.wait(timeout=10 + interval)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        if code != 0:
            stderr_text = Path(tmp, "stderr").read_text(errors="replace")
            raise RuntimeError(f"{argv[0]} exited {code}: {stderr_text[-500:]}")
        lines = out.read_text().splitlines()
        if len(lines) != count:
            raise RuntimeError(f"{argv[0]} printed {len(lines)} lines, not {count}")
    return LoopRun(
        first_beat_s=arrivals[0] - started,
        cpu_per_beat_ms=(cpu_end - cpu_start) * 1000 / (count - 3),
        peak_rss_mib=peak / 1024,
    )


def measure_ours(count: int, interval: float) -> LoopRun:
    account, script = demo_target()
    argv = [CF_LIVETAIL, "--headless", "--base-url", "{base_url}"]
    argv += ["--account", account, "--script", script]
    argv += ["--count", str(count), "--interval", f"{interval:g}"]
    with tempfile.TemporaryDirectory(prefix="cf-bench-home-") as home:
        return measure_loop(argv, app_env(Path(home)), count, interval)


def measure_sdk(count: int, interval: float) -> LoopRun:
    account, script = demo_target()
    argv = [str(SDK_PYTHON), str(SDK_LOOP), "--base-url", "{base_url}"]
    argv += ["--account", account, "--script", script]
    argv += ["--count", str(count), "--interval", f"{interval:g}"]
    with tempfile.TemporaryDirectory(prefix="cf-bench-home-") as home:
        return measure_loop(argv, app_env(Path(home)), count, interval)


def measure_floor(count: int, interval: float) -> LoopRun:
    """Run floor_beat.py, the least an asyncio heartbeat loop can do."""
    account, script = demo_target()
    argv = [sys.executable, str(FLOOR_LOOP), "--base-url", "{base_url}"]
    argv += ["--account", account, "--script", script]
    argv += ["--count", str(count), "--interval", f"{interval:g}"]
    with tempfile.TemporaryDirectory(prefix="cf-bench-home-") as home:
        return measure_loop(argv, app_env(Path(home)), count, interval)


def first_beat_once() -> float:
    """Time `--headless --count 1` from spawn to its heartbeat's arrival."""
    account, script = demo_target()
    argv = [CF_LIVETAIL, "--headless", "--base-url", "{base_url}"]
    argv += ["--account", account, "--script", script, "--count", "1"]
    with (
        tempfile.TemporaryDirectory(prefix="cf-bench-home-") as home,
        BeatServer() as server,
    ):
        argv = [arg.replace("{base_url}", server.base_url) for arg in argv]
        started = time.monotonic()
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=app_env(Path(home)),
            cwd=home,
        )
        try:
            arrivals = _wait_for_beats(server, process, 1, 30)
            _, stderr = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        if process.returncode != 0:
            raise RuntimeError(
                f"cf-livetail --headless exited {process.returncode}: "
                f"{stderr.decode(errors='replace')[-500:]}"
            )
    return arrivals[0] - started


def textual_imports_in_headless() -> int:
    """Count the Textual modules that `--headless --count 1` imports.

    Runs the CLI under ``python -X importtime``, which lists every module
    imported on stderr.
    """
    account, script = demo_target()
    with (
        tempfile.TemporaryDirectory(prefix="cf-bench-home-") as home,
        BeatServer() as server,
    ):
        argv = [sys.executable, "-X", "importtime", "-m", "tui", "--headless"]
        argv += ["--base-url", server.base_url, "--account", account]
        argv += ["--script", script, "--count", "1"]
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=app_env(Path(home)),
            cwd=home,
            timeout=60,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"cf-livetail --headless exited {done.returncode}")
    modules = [
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    ]
    if not modules:
        raise RuntimeError("python -X importtime listed no modules")
    return sum(1 for name in modules if name.split(".")[0] == "textual")
