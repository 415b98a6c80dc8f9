"""Small text helpers shared by the UI and the headless output."""

from __future__ import annotations

import datetime as dt
import time


def short_id(value: str) -> str:
    """Return the first 8 characters of an id, enough to tell accounts apart."""
    return value[:8] + "…" if len(value) > 8 else value


def local_time(epoch: float | None, with_date: bool = False) -> str:
    if epoch is None:
        return "—"
    pattern = "%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S"
    return time.strftime(pattern, time.localtime(epoch))


def local_date(epoch: float) -> str:
    """Format epoch seconds as the local date with its weekday: "Thu 2026-12-03"."""
    return time.strftime("%a %Y-%m-%d", time.localtime(epoch))


def duration(seconds: float) -> str:
    """Format seconds as "45 s", "3 min 20 s" or "2 h 5 min"."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def iso_utc(epoch: float) -> str:
    """Format epoch seconds as ISO 8601 in UTC with milliseconds and a Z."""
    stamp = dt.datetime.fromtimestamp(epoch, dt.UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def interval_text(seconds: float) -> str:
    """Format an interval exactly below a minute ("2.5 s"), else as a duration."""
    return f"{seconds:g} s" if seconds < 60 else duration(seconds)


def plural(count: int, noun: str) -> str:
    """Return "1 beat" or "2 beats": the count with the noun in the right number."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"
