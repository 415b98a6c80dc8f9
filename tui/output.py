"""Lines on stdout for the headless and list modes: JSON, or one readable line.

``--format json`` writes one JSON object per line, ASCII only, so that any
locale's stdout can take it. ``--format pretty`` writes one line of text per
heartbeat, event or listed item, coloured only when stdout is a terminal and
``NO_COLOR`` is unset or empty (the rule of https://no-color.org). Without
``--format``, a terminal gets pretty lines and a pipe or file gets JSON.
This module imports no Textual, and ``tui.events`` only when a line needs it,
so that plain headless heartbeats start without it.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any

from tui.errors import UserError
from tui.text import local_time

if TYPE_CHECKING:
    from tui.events import EventLine

FORMATS = ("json", "pretty")
# Width of the column that contains "heartbeat" or an event's level.
LABEL_WIDTH = 9

_RESET = "\x1b[0m"
_DIM = "\x1b[2m"
_BOLD_RED = "\x1b[1;31m"
_BOLD_GREEN = "\x1b[1;32m"
LEVEL_COLORS = {
    "error": "\x1b[31m",
    "warn": "\x1b[33m",
    "info": "\x1b[36m",
    "log": "",
    "debug": _DIM,
}


def is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def default_format(stream: IO[str]) -> str:
    """Return "pretty" for a terminal, else "json"."""
    return "pretty" if is_terminal(stream) else "json"


def use_color(stream: IO[str], environ: Mapping[str, str]) -> bool:
    """Return whether pretty lines on ``stream`` get ANSI colours."""
    return is_terminal(stream) and not environ.get("NO_COLOR")


class LineWriter:
    """Writes heartbeats, events and listed items in one format.

    Every write raises BrokenPipeError when the reader went away, and
    UserError when stdout cannot be written for another reason (a full
    disk, say). ``stream`` defaults to ``sys.stdout`` at the time of writing.
    """

    def __init__(
        self, fmt: str = "json", *, color: bool = False, stream: IO[str] | None = None
    ):
        if fmt not in FORMATS:
            raise ValueError(f"unknown output format {fmt!r}: use json or pretty")
        self.format = fmt
        self.color = color and fmt == "pretty"
        self._stream = stream

    def item(self, record: dict[str, Any], text: str) -> None:
        """Write one listed item: ``record`` as JSON, or ``text`` when pretty."""
        from tui.events import clean

        self._write(json.dumps(record) if self.format == "json" else clean(text))

    def heartbeat(self, record: dict[str, Any]) -> None:
        """Write one heartbeat record (the headless JSON object of a beat)."""
        if self.format == "json":
            self._write(json.dumps(record))
        else:
            self._write(heartbeat_text(record, self.color))

    def event(self, line: EventLine) -> None:
        from tui.events import event_record

        if self.format == "json":
            self._write(json.dumps({"kind": "event", **event_record(line)}))
        else:
            self._write(event_text(line, self.color))

    def _write(self, text: str) -> None:
        stream = self._stream or sys.stdout
        try:
            stream.write(text + "\n")
            stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise UserError(f"cannot write to stdout: {exc.strerror or exc}") from None


def _paint(text: str, style: str, color: bool) -> str:
    return f"{style}{text}{_RESET}" if color and style else text


def _iso_to_epoch(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def heartbeat_text(record: Mapping[str, Any], color: bool = False) -> str:
    """Return a heartbeat as one line: time, outcome, HTTP status, latency, message."""
    from tui.events import clean

    when = local_time(_iso_to_epoch(record.get("time")), with_date=True)
    style = _BOLD_GREEN if record.get("ok") else _BOLD_RED
    parts = [
        _paint(when, _DIM, color),
        _paint("heartbeat".ljust(LABEL_WIDTH), style, color),
        _paint(str(record.get("outcome", "")), style, color),
    ]
    status = record.get("http_status")
    if status:
        parts.append(f"HTTP {status}")
    latency = record.get("latency_ms")
    if isinstance(latency, int | float):
        parts.append(f"{latency:.0f} ms")
    parts.append(clean(str(record.get("message", ""))))
    return "  ".join(parts)


def event_text(line: EventLine, color: bool = False) -> str:
    """Return an event as one line: time, level, and the event's summary."""
    when = local_time(line.time, with_date=True)
    style = _BOLD_RED if line.exception else LEVEL_COLORS.get(line.level, "")
    return "  ".join(
        [
            _paint(when, _DIM, color),
            _paint(line.level.ljust(LABEL_WIDTH), style, color),
            line.message,
        ]
    )
