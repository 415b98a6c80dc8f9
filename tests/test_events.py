"""Parsing live-tail frames into event lines, searching them, and filters."""

from __future__ import annotations

import base64
import json

import pytest

from tui.events import (
    MAX_MESSAGE_CHARS,
    EventLine,
    event_record,
    matches,
    parse_event,
    parse_frame,
)
from tui.filters import (
    FilterError,
    FilterSet,
    event_matches,
    leaf_matches,
    lookup,
    make_leaf,
    validate_filters,
)

NOW = 1_800_000_000.0
STAMP_MS = 1_764_500_000_123

INVOCATION = {
    "timestamp": STAMP_MS,
    "$metadata": {
        "id": "e1",
        "requestId": "req-1",
        "service": "api-gateway",
        "type": "cf-worker-event",
        "level": "info",
        "trigger": "GET /users",
    },
    "$workers": {
        "eventType": "fetch",
        "outcome": "ok",
        "requestId": "req-1",
        "wallTimeMs": 12,
        "event": {
            "request": {"method": "GET", "url": "https://example.com/users"},
            "response": {"status": 200},
        },
    },
}
CONSOLE_WARN = {
    "timestamp": STAMP_MS,
    "source": {"message": "slow upstream"},
    "$metadata": {
        "requestId": "req-1",
        "type": "cf-worker",
        "level": "warn",
        "message": "slow upstream: 900 ms",
    },
}
EXCEPTION = {
    "timestamp": STAMP_MS,
    "$metadata": {
        "requestId": "req-2",
        "level": "error",
        "error": "TypeError: x is undefined\n    at handler (index.js:4:2)",
    },
    "$workers": {
        "outcome": "exception",
        "event": {
            "request": {"method": "POST", "url": "https://example.com/orders"},
            "response": {"status": 500},
        },
    },
}
CRON = {
    "timestamp": STAMP_MS,
    "$metadata": {"requestId": "req-3", "level": "info"},
    "$workers": {
        "eventType": "scheduled",
        "outcome": "ok",
        "event": {"cron": "*/5 * * * *"},
    },
}
WRANGLER = {
    "outcome": "exception",
    "scriptName": "api-gateway",
    "eventTimestamp": STAMP_MS,
    "event": {
        "request": {
            "url": "https://example.com/a",
            "method": "PUT",
            "cf": {"requestId": "req-w"},
        },
        "response": {"status": 500},
    },
    "logs": [
        {"level": "log", "message": ["started", {"user": 7}], "timestamp": STAMP_MS},
        {"level": "warn", "message": ["careful"], "timestamp": STAMP_MS},
    ],
    "exceptions": [{"name": "Error", "message": "boom", "timestamp": STAMP_MS}],
}


def one(frame: str | bytes) -> EventLine:
    lines = parse_frame(frame, NOW)
    assert len(lines) == 1
    return lines[0]


# -- observability shapes ------------------------------------------------------


def test_invocation_event_fields():
    line = one(json.dumps(INVOCATION))
    assert line.time == STAMP_MS / 1000
    assert line.level == "info"
    assert line.outcome == "ok"
    assert line.request_id == "req-1"
    assert line.exception is False
    assert line.message.startswith("GET https://example.com/users 200")
    assert line.raw == INVOCATION


def test_console_log_event_uses_metadata_message():
    line = one(json.dumps(CONSOLE_WARN))
    assert line.level == "warn"
    assert line.message == "slow upstream: 900 ms"
    assert line.outcome is None
    assert line.request_id == "req-1"


def test_console_log_without_message_uses_source():
    event = {"$metadata": {"level": "log"}, "source": {"message": ["a", 1, True]}}
    line = one(json.dumps(event))
    assert line.message == "a 1 true"


def test_exception_event_is_marked():
    line = one(json.dumps(EXCEPTION))
    assert line.exception is True
    assert line.level == "error"
    assert line.outcome == "exception"
    assert "POST https://example.com/orders 500" in line.message
    assert "TypeError: x is undefined" in line.message
    assert "\n" not in line.message


def test_error_field_alone_is_exception():
    line = one(json.dumps({"$metadata": {"level": "info", "error": "Error: boom"}}))
    assert line.exception is True
    assert line.level == "error"
    assert line.message == "Error: boom"


@pytest.mark.parametrize("outcome", ["exceededCpu", "exceededMemory"])
def test_failed_outcome_without_error_is_exception(outcome):
    event = {"$metadata": {"level": "info"}, "$workers": {"outcome": outcome}}
    line = one(json.dumps(event))
    assert line.exception is True
    assert line.level == "error"
    assert outcome in line.message


def test_canceled_outcome_is_not_exception():
    event = {"$metadata": {"level": "info"}, "$workers": {"outcome": "canceled"}}
    line = one(json.dumps(event))
    assert line.exception is False
    assert line.outcome == "canceled"


def test_cron_event_names_schedule():
    line = one(json.dumps(CRON))
    assert line.message == "scheduled */5 * * * *"
    assert line.level == "info"


def test_trigger_used_without_request():
    event = {"$metadata": {"trigger": "queue jobs"}, "$workers": {"outcome": "ok"}}
    assert one(json.dumps(event)).message == "queue jobs"


@pytest.mark.parametrize(
    "event",
    [
        {"$metadata": {}},
        {"$metadata": None, "$workers": None},
        {"$metadata": "text", "$workers": 5, "timestamp": "garbage"},
        {"$workers": {"event": "not an object", "outcome": 3}},
        {"$metadata": {"level": 5, "message": {"nested": [1, 2]}}},
        {"$workers": {"event": {"request": [], "response": {"status": None}}}},
    ],
)
def test_odd_observability_shapes_do_not_raise(event):
    line = one(json.dumps(event))
    assert isinstance(line.message, str)
    assert line.message
    assert line.time == NOW
    assert line.level in ("debug", "log", "info", "warn", "error")


def test_unknown_level_becomes_log():
    event = {"$metadata": {"level": "LOUD", "message": "hi"}}
    assert one(json.dumps(event)).level == "log"


@pytest.mark.parametrize(
    ("name", "level"),
    [("WARNING", "warn"), ("Error", "error"), ("trace", "debug"), ("INFO", "info")],
)
def test_level_aliases(name, level):
    event = {"$metadata": {"level": name, "message": "m"}}
    assert one(json.dumps(event)).level == level


# -- wrangler tail shape ---------------------------------------------------------


def test_wrangler_shape_summary():
    line = one(json.dumps(WRANGLER))
    assert line.outcome == "exception"
    assert line.exception is True
    assert line.level == "error"
    assert line.time == STAMP_MS / 1000
    assert line.request_id == "req-w"
    assert "PUT https://example.com/a 500" in line.message
    assert "Error: boom" in line.message
    assert 'started {"user":7}' in line.message
    assert "(+1 more logs)" in line.message


def test_wrangler_logs_set_highest_level():
    event = {"outcome": "ok", "logs": [{"level": "debug"}, {"level": "warn"}]}
    line = one(json.dumps(event))
    assert line.level == "warn"
    assert line.exception is False


def test_wrangler_cron_event():
    event = {"outcome": "ok", "event": {"cron": "0 * * * *"}, "logs": []}
    assert one(json.dumps(event)).message == "scheduled 0 * * * *"


def test_wrangler_garbage_inside_does_not_raise():
    event = {"outcome": None, "logs": ["x", 3, None], "exceptions": "no", "event": 1}
    line = one(json.dumps(event))
    assert line.exception is False
    assert line.message


# -- batches and nested arrays ---------------------------------------------------


def test_top_level_array_splits():
    lines = parse_frame(json.dumps([INVOCATION, CONSOLE_WARN, 7]), NOW)
    assert len(lines) == 3
    assert lines[0].outcome == "ok"
    assert lines[1].level == "warn"
    assert lines[2].message == "7"
    assert lines[2].raw == 7


def test_events_key_splits():
    frame = json.dumps({"events": [INVOCATION, EXCEPTION]})
    lines = parse_frame(frame, NOW)
    assert [line.exception for line in lines] == [False, True]


def test_query_api_nesting_splits():
    frame = json.dumps({"events": {"events": [CONSOLE_WARN, CRON]}})
    lines = parse_frame(frame, NOW)
    assert len(lines) == 2
    assert lines[1].message == "scheduled */5 * * * *"


def test_nested_arrays_flatten():
    lines = parse_frame(json.dumps([[CONSOLE_WARN], [[CRON]]]), NOW)
    assert len(lines) == 2


def test_empty_array_is_one_line():
    line = one("[]")
    assert line.message == "[]"
    assert line.raw == []


def test_events_key_next_to_metadata_is_one_event():
    event = {"$metadata": {"message": "m"}, "events": [1, 2]}
    assert one(json.dumps(event)).message == "m"


# -- plain JSON, text and binary frames ------------------------------------------


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ("42", "42"),
        ("null", "null"),
        ('"just a string"', '"just a string"'),
        ('{"a": {"b": [1, 2]}}', '{"a":{"b":[1,2]}}'),
    ],
)
def test_other_json_shown_compact(frame, message):
    line = one(frame)
    assert line.message == message
    assert line.raw == json.loads(frame)


def test_generic_object_with_message_and_level():
    line = one('{"level": "error", "message": "disk full", "requestId": "r"}')
    assert line.level == "error"
    assert line.message == "disk full"
    assert line.request_id == "r"


def test_non_json_text_frame():
    line = one("hello\x00world\nsecond line")
    assert line.message == "hello\\x00world ⏎ second line"
    assert line.raw == "hello\x00world\nsecond line"
    assert line.time == NOW


def test_empty_text_frame():
    assert one("").message == "(empty frame)"


def test_truncated_json_is_text():
    line = one('{"$metadata": {"level": "err')
    assert line.raw == '{"$metadata": {"level": "err'


def test_deeply_nested_json_does_not_raise():
    frame = "[" * 100_000 + "]" * 100_000
    assert len(parse_frame(frame, NOW)) >= 1


def test_binary_utf8_json_is_parsed():
    line = one(json.dumps(CONSOLE_WARN).encode())
    assert line.level == "warn"
    assert line.message == "slow upstream: 900 ms"


def test_binary_non_utf8_is_hex_summary():
    data = bytes(range(256))
    line = one(data)
    assert line.message.startswith("binary frame, 256 bytes: 00 01 02")
    assert line.message.endswith("…")
    assert line.raw["size"] == 256
    assert base64.b64decode(line.raw["binary_base64"]) == data


def test_long_message_truncated():
    line = one(json.dumps({"$metadata": {"message": "x" * 5000}}))
    assert len(line.message) == MAX_MESSAGE_CHARS + 1
    assert line.message.endswith("…")
    assert len(line.raw["$metadata"]["message"]) == 5000


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        (1_764_500_000, 1_764_500_000.0),
        (1_764_500_000_500, 1_764_500_000.5),
        (1_764_500_000_500_000, 1_764_500_000.5),
        ("2025-11-30T10:53:20Z", 1_764_500_000.0),
        ("2025-11-30T10:53:20", 1_764_500_000.0),
        (10**30, NOW),
        (-5, NOW),
        (float("nan"), NOW),
        (True, NOW),
        ("yesterday", NOW),
        ([1], NOW),
    ],
)
def test_timestamp_forms(stamp, expected):
    event = {"timestamp": stamp, "$metadata": {"message": "m"}}
    line = parse_event(event, NOW)
    assert line.time == pytest.approx(expected)


def test_parse_event_unserialisable_value():
    class Strange:
        pass

    line = parse_event({"$metadata": {"message": Strange()}}, NOW)
    assert line.message


def test_event_record_keys():
    record = event_record(one(json.dumps(EXCEPTION)))
    assert record["time"] == "2025-11-30T10:53:20.123Z"
    assert record["level"] == "error"
    assert record["outcome"] == "exception"
    assert record["request_id"] == "req-2"
    assert record["exception"] is True
    assert record["raw"] == EXCEPTION
    assert json.loads(json.dumps(record)) == record


def test_event_record_leaves_out_empty_optional_keys():
    record = event_record(one("plain"))
    assert "request_id" not in record
    assert "exception" not in record
    assert record["outcome"] is None


# -- search ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True),
        ("   ", True),
        ("orders", True),
        ("ORDERS", True),
        ("typeerror orders", True),
        ("typeerror missing", False),
        ("req-2", True),
        ("index.js:4", True),
        ("$workers", True),
        ("nothing-like-this", False),
    ],
)
def test_matches(text, expected):
    line = one(json.dumps(EXCEPTION))
    assert matches(line, text) is expected


def test_matches_text_frame():
    line = one("Plain Text Frame")
    assert matches(line, "text frame")


# -- filters ---------------------------------------------------------------------


def leaf(key, operation, value=None, kind="string"):
    node = {"key": key, "operation": operation, "type": kind}
    if value is not None:
        node["value"] = value
    return node


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        (leaf("$workers.outcome", "eq", "exception"), True),
        (leaf("$workers.outcome", "eq", "ok"), False),
        (leaf("$workers.outcome", "=", "exception"), True),
        (leaf("$workers.outcome", "neq", "ok"), True),
        (leaf("$workers.outcome", "!=", "exception"), False),
        (leaf("$metadata.error", "includes", "undefined"), True),
        (leaf("$metadata.error", "INCLUDES", "Undefined"), False),
        (leaf("$metadata.error", "not_includes", "undefined"), False),
        (leaf("$metadata.error", "DOES_NOT_INCLUDE", "zzz"), True),
        (leaf("$metadata.error", "starts_with", "TypeError"), True),
        (leaf("$metadata.error", "ends_with", "4:2)"), True),
        (leaf("$metadata.error", "regex", r"x is \w+"), True),
        (leaf("$metadata.error", "MATCH_REGEX", r"^RangeError"), False),
        (leaf("$metadata.error", "regex", "("), False),
        (leaf("$metadata.error", "exists"), True),
        (leaf("$metadata.nothing", "EXISTS"), False),
        (leaf("$metadata.nothing", "is_null"), True),
        (leaf("$metadata.error", "DOES_NOT_EXIST"), False),
        (leaf("$workers.outcome", "in", "ok, exception"), True),
        (leaf("$workers.outcome", "not_in", "ok,canceled"), True),
        (leaf("$workers.outcome", "NOT_IN", "exception"), False),
        (leaf("$workers.event.response.status", "eq", 500, "number"), True),
        (leaf("$workers.event.response.status", "eq", "500", "number"), True),
        (leaf("$workers.event.response.status", "gt", 499, "number"), True),
        (leaf("$workers.event.response.status", ">=", 500, "number"), True),
        (leaf("$workers.event.response.status", "lt", 500, "number"), False),
        (leaf("$workers.event.response.status", "<=", 500, "number"), True),
        (leaf("$workers.event.response.status", "in", "404, 500", "number"), True),
        (leaf("$workers.event.response.status", "eq", "abc", "number"), False),
        (leaf("$workers.event.response.status", "eq", "500"), True),
        (leaf("$workers.event.request.method", "eq", "POST"), True),
        (leaf("$workers.truncated", "eq", True, "boolean"), True),
        (leaf("$workers.truncated", "eq", "false", "boolean"), False),
        (leaf("$workers.truncated", "neq", "false", "boolean"), True),
        (leaf("$metadata.missing", "eq", "x"), False),
        (leaf("$metadata.missing", "neq", "x"), True),
        (leaf("$metadata.missing", "gt", 1, "number"), False),
        (leaf("$metadata.tags", "eq", "b"), True),
    ],
)
def test_leaf_operations(node, expected):
    event = json.loads(json.dumps(EXCEPTION))
    event["$workers"]["truncated"] = True
    event["$metadata"]["tags"] = ["a", "b"]
    assert leaf_matches(event, node) is expected


def test_combination_and_or():
    both = [leaf("$workers.outcome", "eq", "exception"), leaf("$x", "exists")]
    assert event_matches(EXCEPTION, both, "and") is False
    assert event_matches(EXCEPTION, both, "or") is True
    assert event_matches(EXCEPTION, both, "OR") is True


def test_empty_filters_match_everything():
    assert event_matches(EXCEPTION, []) is True
    assert event_matches(EXCEPTION, None) is True


def test_nested_group():
    group = {
        "kind": "group",
        "filterCombination": "or",
        "filters": [
            leaf("$workers.outcome", "eq", "ok"),
            leaf("$metadata.level", "eq", "error"),
        ],
    }
    assert event_matches(EXCEPTION, [group]) is True
    assert event_matches(CONSOLE_WARN, [group]) is False


def test_leaf_with_filter_kind():
    node = {**leaf("$workers.outcome", "eq", "exception"), "kind": "filter"}
    assert event_matches(EXCEPTION, [node]) is True


@pytest.mark.parametrize(
    "node",
    [
        leaf("", "eq", "x"),
        leaf("$a", "approximately", "x"),
        leaf("$a", "eq", "x", kind="date"),
        "not an object",
    ],
)
def test_invalid_filter_raises(node):
    with pytest.raises(FilterError):
        event_matches(EXCEPTION, [node])


def test_invalid_combination_raises():
    with pytest.raises(FilterError):
        event_matches(EXCEPTION, [leaf("$a", "exists")], "xor")


def test_lookup_dotted_literal_key():
    event = {"$workers": {"event.cron": "* * * * *", "event": {"x": 1}}}
    assert lookup(event, "$workers.event.cron") == (True, "* * * * *")
    assert lookup(event, "$workers.event.x") == (True, 1)
    assert lookup(event, "$workers.event.y") == (False, None)
    assert lookup("not a dict", "$a") == (False, None)


def test_validate_filters_lists_every_problem():
    problems = validate_filters(
        [
            leaf("", "eq", "x"),
            leaf("$a", "gt", "ten", "number"),
            leaf("$a", "regex", "(unclosed"),
            leaf("$a", "eq", "maybe", "boolean"),
            leaf("$a", "eq"),
            leaf("$a", "exists"),
            {"kind": "group", "filterCombination": "xor", "filters": []},
        ]
    )
    assert problems[0].startswith("filter 1: the key is empty")
    assert problems[1] == "filter 2: 'ten' is not a number (type is number)"
    assert problems[2].startswith("filter 3: invalid regular expression")
    assert problems[3] == "filter 4: 'maybe' is not true or false (type is boolean)"
    assert problems[4] == "filter 5: the operation eq needs a value"
    assert "filter 7: a group needs filterCombination and or or" in problems
    assert "filter 7: a group needs a non-empty filters list" in problems
    assert len(problems) == 7


def test_validate_filters_depth_limit():
    node = leaf("$a", "exists")
    for _ in range(4):
        node = {"kind": "group", "filterCombination": "and", "filters": [node]}
    problems = validate_filters([node])
    assert any("nest more than 4 deep" in p for p in problems)


def test_validate_filters_accepts_valid_list():
    assert validate_filters([leaf("$workers.outcome", "eq", "ok")]) == []
    assert validate_filters("nope") == ["filters must be a list of filter objects"]


def test_make_leaf_converts_types():
    assert make_leaf(" $a ", "gt", "number", " 5 ")["value"] == 5
    assert make_leaf("$a", "gt", "number", "2.5")["value"] == 2.5
    assert make_leaf("$a", "eq", "boolean", "TRUE")["value"] is True
    assert make_leaf("$a", "in", "number", "1, 2")["value"] == "1, 2"
    assert "value" not in make_leaf("$a", "exists", "string", "ignored")
    assert make_leaf(" $a ", "eq", "string", "x")["key"] == "$a"


def test_make_leaf_rejects_bad_value():
    with pytest.raises(FilterError, match="'x' is not a number"):
        make_leaf("$a", "gt", "number", "x")


def test_filter_set_body():
    assert FilterSet([]).body() == {}
    body = FilterSet([leaf("$a", "exists")], "or").body()
    assert body == {"filters": [leaf("$a", "exists")], "filterCombination": "or"}
