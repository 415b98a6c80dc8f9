"""Live-tail events: parse a WebSocket frame into display lines, and filter them.

A frame is usually one JSON object in the Workers Observability event format
(``timestamp`` in epoch milliseconds, ``$metadata``, ``$workers``). No public
document fixes that format, so parsing tolerates missing and extra keys, the
older ``wrangler tail`` shape (``outcome``, ``logs``, ``exceptions``,
``event``), arrays of events, plain text and binary frames. Parsing never
raises: a frame that fits no known shape is shown as compact JSON or text.

This module imports no Textual; ``tui.filters`` evaluates the live-tail
filter list against the raw events.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tui.text import iso_utc

LEVELS = ("debug", "log", "info", "warn", "error")
DEFAULT_LEVEL = "log"
LEVEL_ALIASES = {
    "warning": "warn",
    "err": "error",
    "fatal": "error",
    "critical": "error",
    "trace": "debug",
    "verbose": "debug",
}
# Invocation outcomes that mean the Worker failed, as `$workers.outcome` and
# wrangler tail's `outcome` report them. The order is the one `--status error`
# sends them in.
FAILED_OUTCOME_NAMES = (
    "exception",
    "exceededCpu",
    "exceededMemory",
    "exceededResources",
    "scriptNotFound",
    "internalError",
    "killSwitch",
    "daemonDown",
    "loadShed",
    "responseStreamDisconnected",
)
FAILED_OUTCOMES = frozenset(FAILED_OUTCOME_NAMES)
# Characters of a message kept for display; the full event stays in `raw`.
MAX_MESSAGE_CHARS = 2000
# Bytes of a binary frame shown in hex in its summary line.
HEX_PREVIEW_BYTES = 32
# Frames nested deeper than this are shown as JSON instead of split further.
MAX_SPLIT_DEPTH = 3

# 9999-12-31T23:59:59Z, the last second that datetime can represent.
MAX_EPOCH = 253402300799.0

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(eq=False)
class EventLine:
    """One event as the events pane and the headless output show it.

    ``time`` is epoch seconds: the event's own timestamp, else the time the
    frame arrived. ``raw`` is the decoded JSON value, the text of a non-JSON
    frame, or ``{"binary_base64": ..., "size": ...}`` for a binary frame that
    is not UTF-8, so it can always be written back as JSON.
    """

    time: float
    level: str
    outcome: str | None
    message: str
    request_id: str | None
    raw: Any
    exception: bool = False
    _haystack: str | None = field(default=None, repr=False)

    @property
    def haystack(self) -> str:
        """Lower-case text that the search box matches against, built once."""
        if self._haystack is None:
            parts = [
                self.level,
                self.outcome or "",
                self.message,
                self.request_id or "",
            ]
            if isinstance(self.raw, str):
                parts.append(self.raw)
            else:
                parts.append(json.dumps(self.raw, ensure_ascii=False, default=str))
            self._haystack = "\n".join(parts).lower()
        return self._haystack


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------


def parse_frame(frame: str | bytes, received: float | None = None) -> list[EventLine]:
    """Parse one WebSocket frame into one or more event lines; never raises.

    A JSON array, or an object whose only content is an ``events`` list, is
    split into one line per element. ``received`` (epoch seconds, default now)
    is the time of events that carry no timestamp of their own.
    """
    now = time.time() if received is None else received
    if isinstance(frame, bytes | bytearray | memoryview):
        data = bytes(frame)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return [_binary_line(data, now)]
    else:
        text = frame
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return [_text_line(text, now)]
    lines = list(_split(value, now, depth=0))
    return lines or [_json_line(value, now)]


def parse_event(value: Any, received: float | None = None) -> EventLine:
    """Turn one decoded JSON value into an event line; never raises."""
    now = time.time() if received is None else received
    try:
        if isinstance(value, dict):
            if _looks_like_wrangler(value):
                return _wrangler_line(value, now)
            if "$metadata" in value or "$workers" in value:
                return _observability_line(value, now)
            return _generic_object_line(value, now)
    except Exception:  # noqa: BLE001 - an odd shape falls back to plain JSON
        pass
    return _json_line(value, now)


def _split(value: Any, now: float, depth: int) -> Iterator[EventLine]:
    if depth < MAX_SPLIT_DEPTH:
        items = _event_list(value)
        if items is not None:
            for item in items:
                yield from _split(item, now, depth + 1)
            return
    yield parse_event(value, now)


def _event_list(value: Any) -> list[Any] | None:
    """Return the events of a batch frame, or None if the value is one event."""
    if isinstance(value, list):
        return value if value else None
    if not isinstance(value, dict):
        return None
    events = value.get("events")
    if isinstance(events, dict):
        # The observability query API nests them: {"events": {"events": [...]}}.
        events = events.get("events")
    is_batch = (
        isinstance(events, list)
        and events
        and "$metadata" not in value
        and "logs" not in value
    )
    return events if is_batch else None


def _observability_line(event: dict[str, Any], now: float) -> EventLine:
    metadata = _dict(event.get("$metadata"))
    workers = _dict(event.get("$workers"))
    request = _dict(_path(workers, "event", "request"))
    response = _dict(_path(workers, "event", "response"))

    outcome = _text(workers.get("outcome"))
    error = _text(metadata.get("error"))
    level = normalise_level(metadata.get("level"))
    failed = outcome in FAILED_OUTCOMES
    exception = failed or bool(error)
    if exception:
        level = "error"

    message = _text(metadata.get("message"))
    if not message and isinstance(event.get("source"), dict | list | str):
        message = _console_text(_path(event, "source", "message") or event["source"])
    summary = _request_summary(
        request.get("method"),
        request.get("url") or metadata.get("url"),
        response.get("status"),
    )
    if not summary:
        summary = _trigger_summary(workers, metadata)
    parts = [summary, message]
    if error and error not in message:
        parts.append(error)
    if failed and not error and not message:
        parts.append(outcome or "")
    text = " · ".join(p for p in parts if p)
    if not text:
        text = compact_json(event)
    request_id = _text(metadata.get("requestId")) or _text(workers.get("requestId"))
    return EventLine(
        time=_epoch(event.get("timestamp"), now),
        level=level,
        outcome=outcome or None,
        message=clean(text),
        request_id=request_id or None,
        raw=event,
        exception=exception,
    )


def _looks_like_wrangler(event: dict[str, Any]) -> bool:
    return "$metadata" not in event and (
        isinstance(event.get("logs"), list)
        or isinstance(event.get("exceptions"), list)
        or ("outcome" in event and "event" in event)
    )


def _wrangler_line(event: dict[str, Any], now: float) -> EventLine:
    outcome = _text(event.get("outcome"))
    inner = _dict(event.get("event"))
    request = _dict(inner.get("request"))
    response = _dict(inner.get("response"))
    summary = _request_summary(
        request.get("method"), request.get("url"), response.get("status")
    )
    if not summary and inner.get("cron"):
        summary = f"scheduled {_text(inner.get('cron'))}"
    elif not summary and inner.get("queue"):
        summary = f"queue {_text(inner.get('queue'))}"

    logs = [log for log in _list(event.get("logs")) if isinstance(log, dict)]
    exceptions = [e for e in _list(event.get("exceptions")) if isinstance(e, dict)]
    levels = [normalise_level(log.get("level")) for log in logs]
    level = max(levels, key=LEVELS.index) if levels else DEFAULT_LEVEL
    failed = outcome in FAILED_OUTCOMES
    exception = failed or bool(exceptions)
    if exception:
        level = "error"

    parts = [summary]
    for item in exceptions[:1]:
        name, text = _text(item.get("name")), _text(item.get("message"))
        parts.append(f"{name}: {text}" if name and text else name or text)
    if logs:
        first = _console_text(logs[0].get("message"))
        more = len(logs) - 1
        parts.append(first + (f" (+{more} more logs)" if more > 0 else ""))
    if failed and not exceptions:
        parts.append(outcome or "")
    text = " · ".join(p for p in parts if p) or compact_json(event)
    stamp = event.get("eventTimestamp", event.get("timestamp"))
    request_id = _text(event.get("requestId")) or _text(
        _dict(request.get("cf")).get("requestId")
    )
    return EventLine(
        time=_epoch(stamp, now),
        level=level,
        outcome=outcome or None,
        message=clean(text),
        request_id=request_id or None,
        raw=event,
        exception=exception,
    )


def _generic_object_line(event: dict[str, Any], now: float) -> EventLine:
    """Show an object of no known shape, using the common keys it does have."""
    level = normalise_level(event.get("level"))
    message = event.get("message")
    text = _console_text(message) if message is not None else compact_json(event)
    return EventLine(
        time=_epoch(event.get("timestamp", event.get("time")), now),
        level=level,
        outcome=_text(event.get("outcome")) or None,
        message=clean(text),
        request_id=_text(event.get("requestId")) or None,
        raw=event,
        exception=level == "error" and "exception" in text.lower(),
    )


def _json_line(value: Any, now: float) -> EventLine:
    return EventLine(now, DEFAULT_LEVEL, None, clean(compact_json(value)), None, value)


def _text_line(text: str, now: float) -> EventLine:
    return EventLine(
        now, DEFAULT_LEVEL, None, clean(text) or "(empty frame)", None, text
    )


def _binary_line(data: bytes, now: float) -> EventLine:
    preview = data[:HEX_PREVIEW_BYTES].hex(" ")
    more = "…" if len(data) > HEX_PREVIEW_BYTES else ""
    message = f"binary frame, {len(data)} bytes: {preview}{more}"
    raw = {"binary_base64": base64.b64encode(data).decode("ascii"), "size": len(data)}
    return EventLine(now, DEFAULT_LEVEL, None, message, None, raw)


def _request_summary(method: Any, url: Any, status: Any) -> str:
    parts = [_text(method), _text(url)]
    if isinstance(status, int | str) and not isinstance(status, bool):
        parts.append(str(status))
    return " ".join(p for p in parts if p)


def _trigger_summary(workers: dict[str, Any], metadata: dict[str, Any]) -> str:
    cron = _path(workers, "event", "cron")
    event_type = _text(workers.get("eventType"))
    if cron:
        return f"scheduled {_text(cron)}"
    trigger = _text(metadata.get("trigger"))
    if trigger:
        return trigger
    if event_type and workers.get("outcome") is not None:
        return event_type
    return ""


def _console_text(value: Any) -> str:
    """Join console.log arguments the way a console shows them."""
    if isinstance(value, list):
        return " ".join(_console_text(item) for item in value)
    if isinstance(value, str):
        return value
    return compact_json(value)


def normalise_level(value: Any) -> str:
    """Return one of LEVELS for a level name in any case; unknown is "log"."""
    if not isinstance(value, str):
        return DEFAULT_LEVEL
    name = value.strip().lower()
    name = LEVEL_ALIASES.get(name, name)
    return name if name in LEVELS else DEFAULT_LEVEL


def _epoch(value: Any, fallback: float) -> float:
    """Convert an event timestamp to epoch seconds.

    Numbers are epoch milliseconds as the API sends them. Values too small to
    be milliseconds since 2001 are taken as seconds, and values too large as
    microseconds. ISO 8601 strings are accepted too.
    """
    if isinstance(value, bool):
        return fallback
    seconds = fallback
    if isinstance(value, int | float) and math.isfinite(value) and value > 0:
        if value < 1e11:
            seconds = float(value)
        elif value > 1e14:
            seconds = value / 1e6
        else:
            seconds = value / 1000.0
    elif isinstance(value, str) and value:
        try:
            stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return fallback
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=dt.UTC)
        seconds = stamp.timestamp()
    # Times past the year 9999 cannot be formatted; show when it arrived.
    return seconds if 0 < seconds < MAX_EPOCH else fallback


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _path(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float | bool):
        return json.dumps(value)
    return compact_json(value)


def compact_json(value: Any) -> str:
    """Encode a value as one line of JSON, whatever it contains."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    except (ValueError, TypeError, RecursionError):
        return repr(value)


def clean(text: str) -> str:
    """Return text as one display line: newlines become ⏎, controls are escaped."""
    text = text.replace("\r\n", "\n").replace("\n", " ⏎ ").replace("\t", "  ")
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[:MAX_MESSAGE_CHARS] + "…"
    return text


# ---------------------------------------------------------------------------
# Output records
# ---------------------------------------------------------------------------


def event_record(line: EventLine) -> dict[str, Any]:
    """Return the JSON object written for one event (headless and JSON Lines)."""
    record: dict[str, Any] = {
        "time": iso_utc(line.time),
        "level": line.level,
        "outcome": line.outcome,
        "message": line.message,
    }
    if line.request_id:
        record["request_id"] = line.request_id
    if line.exception:
        record["exception"] = True
    record["raw"] = line.raw
    return record


# ---------------------------------------------------------------------------
# Client-side search
# ---------------------------------------------------------------------------


def search_terms(text: str) -> list[str]:
    """Split search box text into lower-case terms; all of them must match."""
    return [term for term in text.lower().split() if term]


def matches(line: EventLine, text: str) -> bool:
    """Return whether every whitespace-separated term occurs in the event.

    Case is ignored, and the terms are searched in the shown line and in the
    event's full JSON. Empty text matches every event.
    """
    terms = search_terms(text)
    if not terms:
        return True
    haystack = line.haystack
    return all(term in haystack for term in terms)
