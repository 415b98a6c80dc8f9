"""TUI cold start: from spawning `cf-livetail --demo` to its first full frame.

The app runs in an 80x24 pseudo-terminal. Its first full-screen paint is
recognised by the title in the header (first line) followed by the command
palette hint in the footer (last line). The time taken ends when the chunk
that completed it arrived. The floor is the same measurement for
floor_app.py, a bare Textual app with one Static.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.benchmarks.common import CF_LIVETAIL, COLUMNS, PYTHON, ROWS, app_env
from tests.benchmarks.floor_app import FLOOR_TEXT
from tests.benchmarks.ptyapp import PtyApp

FLOOR_APP = str(Path(__file__).resolve().with_name("floor_app.py"))
# The header's title, then (across the whole screen) the footer's palette hint.
FIRST_FRAME = rb"(?s)cf-livetail.*?palette"
TIMEOUT = 20.0


def _time_to_frame(argv: list[str], pattern: bytes, token: str | None) -> float:
    with tempfile.TemporaryDirectory(prefix="cf-bench-home-") as home:
        app = PtyApp(
            argv, env=app_env(Path(home), token), cwd=home, columns=COLUMNS, rows=ROWS
        )
        with app:
            drawn = app.expect(pattern, TIMEOUT)
            return drawn - app.started_at


def tui_cold_start() -> float:
    """Return seconds from spawning `cf-livetail --demo` to its first frame."""
    return _time_to_frame([CF_LIVETAIL, "--demo"], FIRST_FRAME, token=None)


def floor_cold_start() -> float:
    """Return seconds from spawning the bare Textual app to its first frame."""
    return _time_to_frame([PYTHON, FLOOR_APP], FLOOR_TEXT.encode(), token=None)
