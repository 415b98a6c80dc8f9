"""Turn one HTTP reply from the Cloudflare API into exactly one outcome.

Every reply is meant to be the envelope ``{success, errors, messages, result}``.
``success`` alone decides whether a call worked; codes in ``messages`` (a token
verify puts 10000 there) never mean failure. Anything that is not that envelope
is a ``bad_response``, except where the HTTP status already gives the outcome.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from tui.logsetup import scrub

OK = "ok"
AUTH_FAILED = "auth_failed"
NOT_FOUND = "not_found"
TOO_BUSY = "too_busy"
RATE_LIMITED = "rate_limited"
SERVER_ERROR = "server_error"
BAD_RESPONSE = "bad_response"
TIMEOUT = "timeout"
NETWORK_ERROR = "network_error"
REJECTED = "rejected"

# Outcomes after which the engine stops beating until the user acts.
FATAL_OUTCOMES = frozenset({AUTH_FAILED, NOT_FOUND, TOO_BUSY, REJECTED})
# Outcomes after which the engine retries on its own.
RETRIED_OUTCOMES = frozenset(
    {RATE_LIMITED, SERVER_ERROR, BAD_RESPONSE, TIMEOUT, NETWORK_ERROR}
)

# Error codes seen from the live API: 10000 authentication error, 9106 missing
# auth headers, 9109 unauthorized for the resource, 6003/6103 malformed auth
# headers, 10007 script not found, 7003 no route (usually a bad id), 10057
# Worker has too much traffic to tail.
AUTH_CODES = frozenset({10000, 9106, 9109, 6003, 6103})
NOT_FOUND_CODES = frozenset({10007, 7003})
TOO_BUSY_CODES = frozenset({10057})

RETRY_AFTER_CAP = 300.0
DISPLAY_LIMIT = 200

AUTH_HINT = (
    "check that the token is not expired or revoked, that it has the "
    '"Workers Observability Write" permission, and that no IP restriction '
    "excludes this machine"
)


@dataclass(frozen=True)
class ApiMessage:
    """One entry of an envelope's ``errors`` or ``messages`` list."""

    code: int | None
    message: str

    def __str__(self) -> str:
        if self.code is None:
            return self.message
        return f"{self.code} {self.message}".strip()


@dataclass
class Envelope:
    """A reply body that has the API's envelope shape."""

    success: bool
    errors: list[ApiMessage]
    messages: list[ApiMessage]
    result: Any
    result_info: dict[str, Any] | None = None


@dataclass
class CallResult:
    """The outcome of one API call and everything shown about it."""

    outcome: str
    http_status: int | None
    latency_ms: float
    message: str
    envelope: Envelope | None = None
    codes: tuple[int, ...] = ()
    ray: str | None = None
    retry_after: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome == OK

    @property
    def fatal(self) -> bool:
        return self.outcome in FATAL_OUTCOMES


class EnvelopeError(ValueError):
    """Raised when a body is not the API's JSON envelope."""


def _parse_messages(value: Any, name: str) -> list[ApiMessage]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise EnvelopeError(f"'{name}' is {type(value).__name__}, not a list")
    parsed = []
    for item in value:
        if isinstance(item, dict):
            code = item.get("code")
            if isinstance(code, bool) or not isinstance(code, int):
                code = None
            text = item.get("message")
            parsed.append(ApiMessage(code, text if isinstance(text, str) else ""))
        elif isinstance(item, str):
            parsed.append(ApiMessage(None, item))
        else:
            raise EnvelopeError(f"an entry of '{name}' is {type(item).__name__}")
    return parsed


def parse_envelope(body: bytes | str) -> Envelope:
    """Parse a reply body into an :class:`Envelope`, or raise EnvelopeError."""
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EnvelopeError("reply is not UTF-8 text") from exc
    else:
        text = body
    if not text.strip():
        raise EnvelopeError("reply body is empty")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if text.lstrip().startswith("<"):
            raise EnvelopeError("reply is HTML, not the API's JSON") from exc
        raise EnvelopeError(f"reply is not valid JSON ({exc.msg})") from exc
    except RecursionError as exc:
        raise EnvelopeError("reply is JSON nested too deeply to read") from exc
    if not isinstance(data, dict):
        raise EnvelopeError(f"reply is a JSON {type(data).__name__}, not an object")
    success = data.get("success")
    if not isinstance(success, bool):
        if "success" not in data:
            raise EnvelopeError("reply has no 'success' field")
        raise EnvelopeError("'success' is not true or false")
    info = data.get("result_info")
    return Envelope(
        success=success,
        errors=_parse_messages(data.get("errors"), "errors"),
        messages=_parse_messages(data.get("messages"), "messages"),
        result=data.get("result"),
        result_info=info if isinstance(info, dict) else None,
    )


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Return the wait a Retry-After header requests, in seconds, capped at 5 min."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            # HTTP dates are in UTC, but email.utils returns a naive datetime
            # for the asctime form and for a "-0000" zone.
            when = when.replace(tzinfo=datetime.UTC)
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, min(RETRY_AFTER_CAP, seconds))


_TAGS = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


def one_line(text: str, limit: int = DISPLAY_LIMIT) -> str:
    """Collapse text onto one line and cut it to ``limit`` characters.

    Registered secrets are masked before the cut, so no part of one survives.
    """
    text = _SPACE.sub(" ", scrub(text)).strip()
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else "?" for ch in text)
    if len(text) > limit:
        return text[: limit - 1] + "…"
    return text


def html_title(body: str) -> str | None:
    """Return the <title> of an HTML page, or None."""
    match = re.search(r"<title[^>]*>(.*?)</title>", body, re.IGNORECASE | re.DOTALL)
    if not match:
        return None
    return one_line(_TAGS.sub("", match.group(1)), 80) or None


def _describe(parts: list[str]) -> str:
    return one_line(" · ".join(p for p in parts if p))


def classify(
    status: int,
    body: bytes,
    headers: dict[str, str] | Any,
    latency_ms: float,
) -> CallResult:
    """Classify one complete HTTP reply into a :class:`CallResult`."""
    ray = headers.get("cf-ray") or None
    ray_part = f"cf-ray {ray}" if ray else ""
    status_part = f"HTTP {status}"
    envelope: Envelope | None
    problem = ""
    try:
        envelope = parse_envelope(body)
    except EnvelopeError as exc:
        envelope = None
        problem = str(exc)
        text = body.decode("utf-8", "replace")
        title = html_title(text) if "<" in text else None
        if title:
            problem = f"{problem}: {title}"

    codes: tuple[int, ...] = ()
    api_text = ""
    if envelope is not None and envelope.errors:
        codes = tuple(e.code for e in envelope.errors if e.code is not None)
        api_text = "; ".join(str(e) for e in envelope.errors if str(e))

    def result(outcome: str, *extra: str, retry_after: float | None = None):
        message = _describe([status_part, api_text or problem, *extra, ray_part])
        return CallResult(
            outcome=outcome,
            http_status=status,
            latency_ms=latency_ms,
            message=message,
            envelope=envelope,
            codes=codes,
            ray=ray,
            retry_after=retry_after,
        )

    if envelope is not None and envelope.success and 200 <= status < 300:
        # ``success`` decides: codes in ``errors`` next to ``success: true``
        # (the documented heartbeat example has one) do not mean failure.
        return CallResult(
            outcome=OK,
            http_status=status,
            latency_ms=latency_ms,
            message=_describe([status_part, "ok", ray_part]),
            envelope=envelope,
            codes=codes,
            ray=ray,
        )
    if status == 429:
        wait = parse_retry_after(headers.get("retry-after"))
        note = "" if "rate limit" in api_text.lower() else "rate limited"
        if wait is not None:
            note = f"{note}; Retry-After {wait:g} s".lstrip("; ")
        return result(RATE_LIMITED, note, retry_after=wait)
    if status > 599:
        # RFC 9110 section 15: codes outside 100 to 599 are invalid.
        return result(BAD_RESPONSE, "invalid HTTP status code")
    if status >= 500:
        return result(SERVER_ERROR)
    if status in (401, 403) or AUTH_CODES.intersection(codes):
        return result(AUTH_FAILED)
    if 300 <= status < 400:
        location = headers.get("location", "")
        where = f" to {one_line(location, 80)}" if location else ""
        return result(REJECTED, f"redirect{where} not followed")
    if TOO_BUSY_CODES.intersection(codes):
        return result(TOO_BUSY, "the Worker has too much traffic to tail")
    if status == 404 or NOT_FOUND_CODES.intersection(codes):
        return result(NOT_FOUND)
    if envelope is None:
        if 400 <= status < 500:
            return result(REJECTED)
        return result(BAD_RESPONSE)
    if not api_text:
        api_text = "the API reported failure without an error message"
    return result(REJECTED)


def failure(outcome: str, message: str, latency_ms: float) -> CallResult:
    """Build a result for a call that ended without a complete reply."""
    return CallResult(
        outcome=outcome,
        http_status=None,
        latency_ms=latency_ms,
        message=one_line(message),
    )
