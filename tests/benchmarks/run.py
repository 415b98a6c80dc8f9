"""Run every benchmark and print one table of figures against their targets.

    .venv/bin/python -m tests.benchmarks            # full run, about 17 minutes
    .venv/bin/python -m tests.benchmarks --quick    # smallest sizes, about 40 s

Each figure is the median of ``--runs`` runs (5 by default; 1 with
``--quick``), and the table also shows the fastest and slowest run. A target
is judged on the median. The full run exits 1 when a target is missed;
``--quick`` only checks that every benchmark still runs and exits 0 whatever
the figures. Either mode exits 2 when a benchmark fails to run.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.benchmarks import headless, history_pane, idle, many_sessions, startup
from tests.benchmarks.common import (
    PYTHON,
    REPO,
    app_env,
    compile_package,
    demo_target,
)
from tests.benchmarks.common import start_demo_server as _start_demo_server
from tui.demo.server import DEMO_TOKEN

EXIT_TARGET_MISSED = 1
EXIT_BENCHMARK_FAILED = 2


@dataclass
class Figure:
    """One row of the table: samples from every run, and the target if any."""

    label: str
    unit: str
    # The median must be at most this; None marks a figure shown for context.
    target: float | None = None
    samples: list[float] = field(default_factory=list)
    # (median, min, max, passed) from a benchmark that summarises its own
    # runs, such as bench_events.run(), which judges its targets on the worst
    # run rather than the median.
    summary: tuple[float, float, float, bool] | None = None

    @property
    def measured(self) -> bool:
        return bool(self.samples) or self.summary is not None

    @property
    def median(self) -> float:
        if self.summary is not None:
            return self.summary[0]
        return statistics.median(self.samples)

    @property
    def minimum(self) -> float:
        return self.summary[1] if self.summary is not None else min(self.samples)

    @property
    def maximum(self) -> float:
        return self.summary[2] if self.summary is not None else max(self.samples)

    @property
    def passed(self) -> bool | None:
        if self.target is None or not self.measured:
            return None
        if self.summary is not None:
            return self.summary[3]
        return self.median <= self.target


@dataclass
class Sizes:
    """How much each benchmark does in one run."""

    quick: bool
    runs: int
    loop_beats: int
    idle_window: float
    punctual_beats: int
    history_beats: int
    history_pages: int
    sessions: int
    sessions_window: float
    key_presses: int


FULL = Sizes(
    quick=False,
    runs=5,
    loop_beats=13,
    idle_window=60.0,
    punctual_beats=1000,
    history_beats=100_000,
    history_pages=300,
    sessions=50,
    sessions_window=20.0,
    key_presses=10,
)
QUICK = Sizes(
    quick=True,
    runs=1,
    loop_beats=4,
    idle_window=5.0,
    punctual_beats=100,
    history_beats=10_000,
    history_pages=10,
    sessions=10,
    sessions_window=3.0,
    key_presses=2,
)


def build_figures(sizes: Sizes) -> dict[str, Figure]:
    beats = f"{sizes.history_beats:,}"
    sessions = sizes.sessions
    return {
        "tui_cold_start": Figure("TUI cold start to first frame", "s", 0.6),
        "floor_cold_start": Figure("  floor: bare Textual app, one Static", "s"),
        "headless_first_beat": Figure("headless start to first beat sent", "s", 0.3),
        "headless_textual": Figure("  Textual modules imported by headless", "", 0),
        "ours_loop_start": Figure("heartbeat loop start-up, ours", "s"),
        "sdk_loop_start": Figure("heartbeat loop start-up, SDK", "s"),
        "start_ratio": Figure("start-up, ours / SDK", "x", 0.5),
        "ours_cpu_beat": Figure("CPU per beat, ours", "ms"),
        "sdk_cpu_beat": Figure("CPU per beat, SDK", "ms"),
        "cpu_ratio": Figure("CPU per beat, ours / SDK", "x", 0.5),
        "floor_cpu_beat": Figure("  floor: asyncio loop, raw HTTP/1.1", "ms"),
        "floor_cpu_ratio": Figure("  floor / SDK", "x"),
        "tui_peak_rss": Figure("peak RSS, TUI with one session", "MiB", 60),
        "headless_peak_rss": Figure("peak RSS, headless", "MiB", 35),
        "floor_peak_rss": Figure("  floor: bare Textual app", "MiB"),
        "sdk_peak_rss": Figure("  SDK heartbeat loop", "MiB"),
        "tui_idle_cpu": Figure("idle CPU, TUI with one session", "% core", 0.5),
        "headless_idle_cpu": Figure("idle CPU, headless", "% core", 0.05),
        "floor_idle_cpu": Figure("  floor: bare Textual app", "% core"),
        "tui_traffic": Figure("terminal traffic, TUI idle", "KiB/min", 10),
        "floor_traffic": Figure("  floor: bare Textual app", "KiB/min"),
        "punctual_mean": Figure(
            f"lateness, {sizes.punctual_beats:,} beats at 50 ms, mean", "ms", 5
        ),
        "punctual_p99": Figure("lateness at 50 ms, p99", "ms"),
        "punctual_max": Figure("lateness at 50 ms, max", "ms", 50),
        "punctual_drift": Figure("drift over the run, absolute", "ms", 5),
        "punctual_skipped": Figure("slots skipped", "", 0),
        "history_open": Figure(f"history pane open, {beats} beats", "ms", 200),
        "history_page_median": Figure("page down, median page", "ms"),
        "history_page_max": Figure("page down, slowest page", "ms", 50),
        "history_rss": Figure("RSS growth, open and page", "MiB", 20),
        "sessions_cpu": Figure(f"CPU, {sessions} sessions at 1 s", "% core", 25),
        "sessions_key_p95": Figure("key press to repaint, p95", "ms", 100),
        "sessions_key_median": Figure("key press to repaint, median", "ms"),
    }


# -- the benchmarks, one run each ------------------------------------------


def bench_cold_start(figures: dict[str, Figure], sizes: Sizes) -> None:
    # One launch first, not timed, so that every timed launch finds the
    # files in the OS cache. main() has already written tui/'s bytecode.
    startup.tui_cold_start()
    startup.floor_cold_start()
    for _ in range(sizes.runs):
        figures["tui_cold_start"].samples.append(startup.tui_cold_start())
        figures["floor_cold_start"].samples.append(startup.floor_cold_start())


def bench_headless(figures: dict[str, Figure], sizes: Sizes) -> None:
    figures["headless_textual"].samples.append(headless.textual_imports_in_headless())
    for _ in range(sizes.runs):
        figures["headless_first_beat"].samples.append(headless.first_beat_once())


def bench_sdk(figures: dict[str, Figure], sizes: Sizes) -> None:
    for number in range(sizes.runs):
        # Alternate which program goes first, so neither always runs warm.
        order = (
            ("ours", "sdk", "floor") if number % 2 == 0 else ("sdk", "ours", "floor")
        )
        measures = {
            "ours": headless.measure_ours,
            "sdk": headless.measure_sdk,
            "floor": headless.measure_floor,
        }
        runs = {name: measures[name](sizes.loop_beats, 1.0) for name in order}
        ours, sdk, floor = runs["ours"], runs["sdk"], runs["floor"]
        figures["ours_loop_start"].samples.append(ours.first_beat_s)
        figures["sdk_loop_start"].samples.append(sdk.first_beat_s)
        figures["start_ratio"].samples.append(ours.first_beat_s / sdk.first_beat_s)
        figures["ours_cpu_beat"].samples.append(ours.cpu_per_beat_ms)
        figures["sdk_cpu_beat"].samples.append(sdk.cpu_per_beat_ms)
        figures["cpu_ratio"].samples.append(ours.cpu_per_beat_ms / sdk.cpu_per_beat_ms)
        figures["sdk_peak_rss"].samples.append(sdk.peak_rss_mib)
        figures["floor_cpu_beat"].samples.append(floor.cpu_per_beat_ms)
        figures["floor_cpu_ratio"].samples.append(
            floor.cpu_per_beat_ms / sdk.cpu_per_beat_ms
        )


def bench_idle(figures: dict[str, Figure], sizes: Sizes) -> None:
    for _ in range(sizes.runs):
        round_figures = idle.idle_round(sizes.idle_window)
        for key, name in (
            ("tui_peak_rss", "tui_peak_rss_mib"),
            ("headless_peak_rss", "headless_peak_rss_mib"),
            ("floor_peak_rss", "floor_peak_rss_mib"),
            ("tui_idle_cpu", "tui_idle_cpu_pct"),
            ("headless_idle_cpu", "headless_idle_cpu_pct"),
            ("floor_idle_cpu", "floor_idle_cpu_pct"),
            ("tui_traffic", "tui_traffic_kib_min"),
            ("floor_traffic", "floor_traffic_kib_min"),
        ):
            figures[key].samples.append(round_figures[name])


def _run_child(argv: list[str], home: str) -> dict[str, float]:
    """Run a benchmark module as a child process; return the JSON it prints."""
    done = subprocess.run(
        [PYTHON, "-m", *argv],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=app_env(Path(home)),
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{argv[0]} exited {done.returncode}: {done.stderr.strip()[-2000:]}"
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_punctuality(figures: dict[str, Figure], sizes: Sizes) -> None:
    account, script = demo_target()
    for _ in range(sizes.runs):
        server = _start_demo_server()
        try:
            with tempfile.TemporaryDirectory(prefix="cf-bench-") as home:
                argv = ["tests.benchmarks.punctuality", "--base-url", server.base_url]
                argv += ["--token", DEMO_TOKEN, "--account", account]
                argv += ["--script", script, "--beats", str(sizes.punctual_beats)]
                result = _run_child(argv, home)
        finally:
            server.stop()
        figures["punctual_mean"].samples.append(result["mean_ms"])
        figures["punctual_p99"].samples.append(result["p99_ms"])
        figures["punctual_max"].samples.append(result["max_ms"])
        figures["punctual_drift"].samples.append(abs(result["drift_ms"]))
        figures["punctual_skipped"].samples.append(result["skipped_slots"])


def bench_history(figures: dict[str, Figure], sizes: Sizes) -> None:
    with tempfile.TemporaryDirectory(prefix="cf-bench-") as home:
        db = Path(home) / "history.db"
        session_id = history_pane.build_history(db, sizes.history_beats)
        for _ in range(sizes.runs):
            argv = ["tests.benchmarks.history_pane", "--db", str(db)]
            argv += ["--session-id", str(session_id)]
            argv += ["--pages", str(sizes.history_pages)]
            result = _run_child(argv, home)
            figures["history_open"].samples.append(result["open_ms"])
            figures["history_page_median"].samples.append(result["page_median_ms"])
            figures["history_page_max"].samples.append(result["page_max_ms"])
            figures["history_rss"].samples.append(result["rss_growth_mib"])


def bench_many_sessions(figures: dict[str, Figure], sizes: Sizes) -> None:
    for _ in range(sizes.runs):
        result = many_sessions.many_sessions_round(
            sizes.sessions_window, sizes.key_presses, sizes.sessions
        )
        figures["sessions_cpu"].samples.append(result["cpu_pct"])
        figures["sessions_key_p95"].samples.append(result["key_p95_ms"])
        figures["sessions_key_median"].samples.append(result["key_median_ms"])


def bench_events(figures: dict[str, Figure], sizes: Sizes) -> None:
    """Add the rows of bench_events.py, which sets its own sizes and runs."""
    from tests.benchmarks import bench_events as events

    for number, row in enumerate(events.run(quick=sizes.quick)):
        figures[f"events_{number}"] = Figure(
            row["figure"] + " *",
            "",
            row["target"],
            summary=(row["median"], row["min"], row["max"], row["pass"]),
        )


BENCHMARKS: dict[str, Callable[[dict[str, Figure], Sizes], None]] = {
    "cold_start": bench_cold_start,
    "headless": bench_headless,
    "sdk": bench_sdk,
    "idle": bench_idle,
    "punctuality": bench_punctuality,
    "history": bench_history,
    "many_sessions": bench_many_sessions,
    "events": bench_events,
}


# -- machine and table -----------------------------------------------------


def machine_lines(sdk_version: str) -> list[str]:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory_kib = int(line.split()[1])
    os_name = platform.system()
    release = Path("/etc/os-release")
    if release.exists():
        for line in release.read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    return [
        f"CPU: {cpu}, {os.cpu_count()} cores; RAM: {memory_kib / 1024**2:.1f} GiB",
        f"OS: {os_name}, Linux {platform.release()}",
        f"Python {platform.python_version()}, "
        f"Textual {importlib.metadata.version('textual')}, "
        f"httpx {importlib.metadata.version('httpx')}, "
        f"cloudflare SDK {sdk_version}",
    ]


def _number(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 0.1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def table_rows(figures: dict[str, Figure], measured_only: bool) -> list[list[str]]:
    rows = [["figure", "median", "min", "max", "target", "result"]]
    for figure in figures.values():
        if measured_only and not figure.measured:
            continue
        unit = f" {figure.unit}" if figure.unit else ""
        if figure.measured:
            cells = [
                _number(figure.median) + unit,
                _number(figure.minimum),
                _number(figure.maximum),
            ]
        else:
            cells = ["not run", "", ""]
        target = "" if figure.target is None else f"≤ {_number(figure.target)}{unit}"
        result = {True: "pass", False: "FAIL", None: ""}[figure.passed]
        rows.append([figure.label, *cells, target, result])
    return rows


def format_text(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for number, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(widths[i]) for i, cell in enumerate(row[1:], start=1)]
        lines.append("  ".join(cells).rstrip())
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def format_markdown(rows: list[list[str]]) -> str:
    def cells(row: list[str]) -> str:
        # Markdown drops leading spaces, so an indented row gets a marker.
        first = row[0].replace("  ", "↳ ", 1) if row[0].startswith("  ") else row[0]
        return "| " + " | ".join([first, *row[1:]]) + " |"

    lines = [cells(rows[0]), "|---|" + "---:|" * 4 + "---|"]
    lines += [cells(row) for row in rows[1:]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks",
        description="Measure cf-livetail against its performance targets.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smallest sizes and 1 run each, to check that every benchmark runs; "
        "exits 0 even when a target is missed",
    )
    parser.add_argument(
        "--runs", type=int, help="runs per figure (default: 5, or 1 with --quick)"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=sorted(BENCHMARKS),
        help="run only these benchmarks",
    )
    parser.add_argument(
        "--markdown", action="store_true", help="print the table as Markdown"
    )
    parser.add_argument(
        "--json", type=Path, metavar="FILE", help="also write every sample to FILE"
    )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.runs is not None:
        if args.runs < 1:
            parser.error("--runs must be 1 or more")
        sizes = dataclasses.replace(sizes, runs=args.runs)

    started = time.monotonic()
    figures = build_figures(sizes)
    errors: list[str] = []
    if not compile_package():
        errors.append("compiling tui/ to bytecode failed; see the lines above")
    try:
        sdk_version = headless.ensure_sdk_venv()
    except RuntimeError as exc:
        sdk_version = "not installed"
        errors.append(f"sdk: {exc}")
    for name, bench in BENCHMARKS.items():
        if args.only and name not in args.only:
            continue
        if name == "sdk" and sdk_version == "not installed":
            continue
        print(f"running {name} …", file=sys.stderr, flush=True)
        try:
            bench(figures, sizes)
        except Exception as exc:  # noqa: BLE001 - report it and run the rest
            traceback.print_exc(file=sys.stderr)
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
    elapsed = time.monotonic() - started

    mode = "quick" if args.quick else "full"
    print(f"cf-livetail benchmarks, {mode} mode, {sizes.runs} run(s) per figure")
    for line in machine_lines(sdk_version):
        print(line)
    print()
    rows = table_rows(figures, measured_only=bool(args.only))
    print(format_markdown(rows) if args.markdown else format_text(rows))
    if any(figure.summary is not None for figure in figures.values()):
        print("\n* judged on the worst run by bench_events.py, not on the median")
    print(f"\nfinished in {elapsed:.0f} s")
    if args.json is not None:
        samples = {
            key: figure.samples or list(figure.summary or ())
            for key, figure in figures.items()
        }
        args.json.write_text(json.dumps(samples, indent=1) + "\n")
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    if errors:
        return EXIT_BENCHMARK_FAILED
    missed = [f.label.strip() for f in figures.values() if f.passed is False]
    if missed and not args.quick:
        print(f"missed {len(missed)} target(s): {', '.join(missed)}", file=sys.stderr)
        return EXIT_TARGET_MISSED
    return 0
