"""Unit tests of reply classification: envelope parsing, outcomes, Retry-After."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tui import envelope as env
from tui.envelope import (
    EnvelopeError,
    classify,
    failure,
    parse_envelope,
    parse_retry_after,
)

RAY = "8f3a1c2b4d5e6f70-LHR"
HTML_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
    "<body><h1>502 Bad Gateway</h1><script>alert(1)</script></body></html>\n"
)


def body(
    success: Any = True,
    errors: list[Any] | None = None,
    messages: list[Any] | None = None,
    result: Any = None,
    **extra: Any,
) -> bytes:
    """Encode a Cloudflare envelope as a reply body."""
    data = {
        "success": success,
        "errors": errors if errors is not None else [],
        "messages": messages if messages is not None else [],
        "result": result if result is not None else {},
        **extra,
    }
    return json.dumps(data).encode()


def error_body(code: int, message: str = "error") -> bytes:
    return body(success=False, errors=[{"code": code, "message": message}])


def http_date(timestamp: float) -> str:
    when = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    return email.utils.format_datetime(when, usegmt=True)


# One row per outcome: (case id, status, body, headers, expected outcome).
OUTCOME_CASES = [
    ("ok", 200, body(), {}, env.OK),
    ("ok_created", 201, body(), {}, env.OK),
    (
        "ok_documented_errors_entry",
        200,
        body(errors=[{"message": "message"}]),
        {},
        env.OK,
    ),
    (
        "ok_auth_code_in_errors",
        200,
        body(errors=[{"code": 10000, "message": "Authentication error"}]),
        {},
        env.OK,
    ),
    (
        "ok_busy_code_in_errors",
        200,
        body(errors=[{"code": 10057, "message": "too much traffic"}]),
        {},
        env.OK,
    ),
    (
        "ok_code_in_messages",
        200,
        body(messages=[{"code": 10000, "message": "This API Token is valid"}]),
        {},
        env.OK,
    ),
    (
        "ok_extra_fields",
        200,
        body(result_info={"page": 1}, unknown={"nested": [1, 2]}, version=4),
        {},
        env.OK,
    ),
    ("auth_401", 401, error_body(10000), {}, env.AUTH_FAILED),
    ("auth_403", 403, error_body(9109), {}, env.AUTH_FAILED),
    ("auth_403_html", 403, HTML_PAGE.encode(), {}, env.AUTH_FAILED),
    ("auth_code_10000", 400, error_body(10000), {}, env.AUTH_FAILED),
    ("auth_code_9106", 400, error_body(9106), {}, env.AUTH_FAILED),
    ("auth_code_9109", 400, error_body(9109), {}, env.AUTH_FAILED),
    ("auth_code_6003", 400, error_body(6003), {}, env.AUTH_FAILED),
    ("auth_code_6103", 400, error_body(6103), {}, env.AUTH_FAILED),
    ("auth_code_on_200_failure", 200, error_body(10000), {}, env.AUTH_FAILED),
    ("not_found_404", 404, error_body(1000), {}, env.NOT_FOUND),
    ("not_found_404_empty", 404, b"", {}, env.NOT_FOUND),
    ("not_found_code_10007", 400, error_body(10007), {}, env.NOT_FOUND),
    ("not_found_code_7003", 400, error_body(7003), {}, env.NOT_FOUND),
    ("too_busy_code_10057", 400, error_body(10057), {}, env.TOO_BUSY),
    ("rate_limited_429", 429, error_body(971), {"retry-after": "7"}, env.RATE_LIMITED),
    ("rate_limited_no_header", 429, b"", {}, env.RATE_LIMITED),
    ("server_error_500", 500, error_body(10001), {}, env.SERVER_ERROR),
    ("server_error_502_html", 502, HTML_PAGE.encode(), {}, env.SERVER_ERROR),
    ("server_error_503_empty", 503, b"", {}, env.SERVER_ERROR),
    ("server_error_despite_success", 500, body(), {}, env.SERVER_ERROR),
    ("bad_response_status_999", 999, error_body(10001), {}, env.BAD_RESPONSE),
    ("bad_response_html", 200, HTML_PAGE.encode(), {}, env.BAD_RESPONSE),
    ("bad_response_empty", 200, b"", {}, env.BAD_RESPONSE),
    ("bad_response_blank", 200, b" \r\n ", {}, env.BAD_RESPONSE),
    ("bad_response_truncated", 200, body()[:20], {}, env.BAD_RESPONSE),
    ("bad_response_array", 200, b"[]", {}, env.BAD_RESPONSE),
    ("bad_response_no_success", 200, b'{"result": {}}', {}, env.BAD_RESPONSE),
    ("bad_response_success_string", 200, body(success="true"), {}, env.BAD_RESPONSE),
    (
        "bad_response_errors_not_list",
        200,
        b'{"success": true, "errors": {"code": 1}}',
        {},
        env.BAD_RESPONSE,
    ),
    (
        "bad_response_errors_entry_number",
        200,
        b'{"success": true, "errors": [7]}',
        {},
        env.BAD_RESPONSE,
    ),
    ("bad_response_not_utf8", 200, b"\xff\xfe{", {}, env.BAD_RESPONSE),
    ("bad_response_no_content", 204, b"", {}, env.BAD_RESPONSE),
    ("rejected_other_code", 400, error_body(1234), {}, env.REJECTED),
    ("rejected_422_html", 422, HTML_PAGE.encode(), {}, env.REJECTED),
    ("rejected_400_empty", 400, b"", {}, env.REJECTED),
    ("rejected_success_false_200", 200, body(success=False), {}, env.REJECTED),
    ("rejected_success_true_400", 400, body(), {}, env.REJECTED),
    (
        "rejected_redirect_301",
        301,
        b"",
        {"location": "https://example.invalid/"},
        env.REJECTED,
    ),
    ("rejected_redirect_302_envelope", 302, body(), {}, env.REJECTED),
]


@pytest.mark.parametrize(
    ("status", "reply", "headers", "expected"),
    [case[1:] for case in OUTCOME_CASES],
    ids=[case[0] for case in OUTCOME_CASES],
)
def test_classify_outcome(
    status: int, reply: bytes, headers: dict[str, str], expected: str
) -> None:
    result = classify(status, reply, headers, 12.5)

    assert result.outcome == expected
    assert result.http_status == status
    assert result.latency_ms == 12.5


def test_every_outcome_has_a_case() -> None:
    covered = {case[4] for case in OUTCOME_CASES}
    # Timeouts and network errors have no reply to classify, so failure() builds them.
    covered |= {env.TIMEOUT, env.NETWORK_ERROR}

    assert covered == env.FATAL_OUTCOMES | env.RETRIED_OUTCOMES | {env.OK}


def test_fatal_and_retried_are_disjoint() -> None:
    assert not env.FATAL_OUTCOMES & env.RETRIED_OUTCOMES
    assert env.OK not in env.FATAL_OUTCOMES | env.RETRIED_OUTCOMES


# Messages.


def test_message_names_status_code_and_ray() -> None:
    result = classify(
        403, error_body(10000, "Authentication error"), {"cf-ray": RAY}, 1.0
    )

    assert "HTTP 403" in result.message
    assert "10000 Authentication error" in result.message
    assert f"cf-ray {RAY}" in result.message
    assert result.ray == RAY
    assert result.codes == (10000,)


def test_message_joins_several_errors() -> None:
    errors = [
        {"code": 10007, "message": "script not found"},
        {"code": 1234, "message": "second problem"},
    ]
    result = classify(400, body(success=False, errors=errors), {}, 1.0)

    assert result.outcome == env.NOT_FOUND
    assert result.codes == (10007, 1234)
    assert "10007 script not found" in result.message
    assert "1234 second problem" in result.message


def test_ok_message_has_status_and_ray() -> None:
    result = classify(200, body(), {"cf-ray": RAY}, 1.0)

    assert result.ok
    assert result.message == f"HTTP 200 · ok · cf-ray {RAY}"


def test_ok_with_error_entry_keeps_its_codes() -> None:
    reply = body(errors=[{"code": 10000, "message": "Authentication error"}])

    result = classify(200, reply, {}, 1.0)

    assert result.ok
    assert result.codes == (10000,)


def test_message_without_ray_has_no_ray_part() -> None:
    result = classify(500, error_body(10001, "internal"), {}, 1.0)

    assert "cf-ray" not in result.message
    assert result.ray is None


@pytest.mark.parametrize("status", [200, 403, 422, 502])
def test_html_reply_shows_only_title(status: int) -> None:
    result = classify(status, HTML_PAGE.encode(), {"cf-ray": RAY}, 1.0)

    assert "<" not in result.message
    assert "alert" not in result.message
    assert "DOCTYPE" not in result.message
    assert "502 Bad Gateway" in result.message
    assert "HTML" in result.message
    assert f"HTTP {status}" in result.message
    assert f"cf-ray {RAY}" in result.message


def test_html_without_title_shows_no_markup() -> None:
    page = b"<html><body><p>upstream connect error</p></body></html>"

    result = classify(200, page, {}, 1.0)

    assert result.outcome == env.BAD_RESPONSE
    assert "<" not in result.message
    assert "upstream" not in result.message
    assert "HTML" in result.message


def test_truncated_json_message_says_invalid_json() -> None:
    result = classify(200, body()[:20], {}, 1.0)

    assert "not valid JSON" in result.message
    assert "HTTP 200" in result.message


def test_missing_success_message_names_field() -> None:
    result = classify(200, b'{"result": {}}', {}, 1.0)

    assert "no 'success' field" in result.message


def test_failure_without_errors_says_so() -> None:
    result = classify(200, body(success=False), {}, 1.0)

    assert "reported failure without an error message" in result.message


def test_redirect_message_names_location() -> None:
    headers = {"location": "https://example.invalid/login"}

    result = classify(302, b"", headers, 1.0)

    assert "redirect to https://example.invalid/login not followed" in result.message
    assert "HTTP 302" in result.message


def test_too_busy_message_explains() -> None:
    result = classify(400, error_body(10057, "busy"), {}, 1.0)

    assert "too much traffic" in result.message
    assert "10057 busy" in result.message


def test_message_is_one_bounded_line() -> None:
    text = "first line\nsecond\tline\x07" + "x" * 500
    result = classify(400, error_body(1234, text), {"cf-ray": RAY}, 1.0)

    assert "\n" not in result.message
    assert "\t" not in result.message
    assert "\x07" not in result.message
    assert len(result.message) <= env.DISPLAY_LIMIT
    assert result.message.endswith("…")


def test_rate_limited_carries_retry_after() -> None:
    result = classify(429, error_body(971), {"retry-after": "7"}, 1.0)

    assert result.retry_after == 7.0
    assert "rate limited" in result.message


def test_rate_limited_without_header_has_no_wait() -> None:
    result = classify(429, error_body(971), {}, 1.0)

    assert result.retry_after is None


def test_failure_builds_result_without_status() -> None:
    result = failure(env.TIMEOUT, "no complete reply\nwithin 0.8 s", 800.0)

    assert result.outcome == env.TIMEOUT
    assert result.http_status is None
    assert result.latency_ms == 800.0
    assert result.message == "no complete reply within 0.8 s"
    assert not result.ok
    assert not result.fatal


# parse_envelope.


def test_parse_envelope_reads_fields() -> None:
    reply = body(
        errors=[{"code": 1, "message": "one"}, "plain text"],
        messages=[{"code": "10000", "message": 5}],
        result={"wsUrl": "wss://tail.invalid/"},
        result_info={"page": 2, "per_page": 5},
    )

    parsed = parse_envelope(reply)

    assert parsed.success is True
    assert parsed.errors == [
        env.ApiMessage(1, "one"),
        env.ApiMessage(None, "plain text"),
    ]
    assert parsed.messages == [env.ApiMessage(None, "")]
    assert parsed.result == {"wsUrl": "wss://tail.invalid/"}
    assert parsed.result_info == {"page": 2, "per_page": 5}


def test_parse_envelope_accepts_missing_lists() -> None:
    parsed = parse_envelope('{"success": false, "errors": null}')

    assert parsed.success is False
    assert parsed.errors == []
    assert parsed.messages == []
    assert parsed.result is None
    assert parsed.result_info is None


def test_parse_envelope_ignores_boolean_code() -> None:
    parsed = parse_envelope(body(errors=[{"code": True, "message": "x"}]))

    assert parsed.errors == [env.ApiMessage(None, "x")]


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (b"", "empty"),
        (b"<html></html>", "HTML"),
        (b"{", "not valid JSON"),
        (b'"text"', "not an object"),
        (b'{"errors": []}', "no 'success' field"),
        (b'{"success": 1}', "not true or false"),
        (b'{"success": true, "messages": "x"}', "'messages' is str"),
        (b"\xc3\x28", "not UTF-8"),
    ],
)
def test_parse_envelope_rejects(reply: bytes, reason: str) -> None:
    with pytest.raises(EnvelopeError, match=reason):
        parse_envelope(reply)


# parse_retry_after.


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2", 2.0),
        (" 5 ", 5.0),
        ("0", 0.0),
        ("300", 300.0),
        ("301", 300.0),
        ("99999999", 300.0),
    ],
)
def test_retry_after_seconds(value: str, expected: float) -> None:
    assert parse_retry_after(value) == expected


@pytest.mark.parametrize(
    "value", [None, "", "   ", "soon", "-5", "1.5", "2 seconds", "Wed, 99 Foo"]
)
def test_retry_after_garbage_is_none(value: str | None) -> None:
    assert parse_retry_after(value) is None


def test_retry_after_http_date() -> None:
    now = 1_800_000_000.0

    assert parse_retry_after(http_date(now + 120), now=now) == 120.0


def test_retry_after_past_date_is_zero() -> None:
    now = 1_800_000_000.0

    assert parse_retry_after(http_date(now - 60), now=now) == 0.0


def test_retry_after_far_date_is_capped() -> None:
    now = 1_800_000_000.0

    assert parse_retry_after(http_date(now + 86_400), now=now) == 300.0


def test_retry_after_date_uses_wall_clock() -> None:
    wait = parse_retry_after(http_date(time.time() + 60))

    assert wait is not None
    assert 58.0 <= wait <= 60.0


@pytest.fixture
def eastern_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run the test with local time five hours behind UTC."""
    monkeypatch.setenv("TZ", "EST+5")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("eastern_time")
def test_retry_after_asctime_date_is_utc() -> None:
    # HTTP's obsolete asctime form carries no zone and always means UTC.
    now = dt.datetime(2026, 11, 6, 8, 49, 37, tzinfo=dt.UTC).timestamp()

    assert parse_retry_after("Fri Nov  6 08:51:37 2026", now=now) == 120.0
