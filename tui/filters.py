"""The live-tail filter list, evaluated locally against one raw event.

Preparing a live tail can carry ``filters`` (leaves ``{key, operation, type,
value}`` and groups ``{kind: "group", filterCombination, filters}``) and a
``filterCombination``. The functions here apply the same rules on this side,
so that the demo server and a client-side fallback agree, and validate a list
with messages that name each problem. This module imports no Textual.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tui.events import compact_json

COMBINATIONS = ("and", "or")
FILTER_TYPES = ("string", "number", "boolean")
# Canonical operation for each name the live-tail API accepts.
OPERATIONS: dict[str, str] = {
    **{
        name: name
        for name in (
            "includes not_includes starts_with ends_with regex exists is_null "
            "in not_in eq neq gt gte lt lte"
        ).split()
    },
    "=": "eq",
    "!=": "neq",
    ">": "gt",
    ">=": "gte",
    "<": "lt",
    "<=": "lte",
    "INCLUDES": "includes",
    "DOES_NOT_INCLUDE": "not_includes",
    "MATCH_REGEX": "regex",
    "EXISTS": "exists",
    "DOES_NOT_EXIST": "is_null",
    "IN": "in",
    "NOT_IN": "not_in",
    "STARTS_WITH": "starts_with",
    "ENDS_WITH": "ends_with",
}
# Operations that take no value.
VALUELESS = frozenset(("exists", "is_null"))
# Operations that match an event without the key.
# NOTE: the live API does not document how a missing key compares. Here a
# negative test (neq, not_includes, not_in) holds, like "is not X".
MISSING_KEY_MATCHES = frozenset(("is_null", "neq", "not_includes", "not_in"))
# Keys the filter screen offers; any other key is allowed too.
COMMON_KEYS = (
    "$metadata.service",
    "$metadata.level",
    "$metadata.message",
    "$metadata.error",
    "$metadata.trigger",
    "$metadata.requestId",
    "$metadata.type",
    "$metadata.url",
    "$metadata.origin",
    "$workers.outcome",
    "$workers.eventType",
    "$workers.event.request.method",
    "$workers.event.request.url",
    "$workers.event.response.status",
    "$workers.wallTimeMs",
    "$workers.cpuTimeMs",
)
MAX_FILTER_DEPTH = 4


class FilterError(ValueError):
    """An invalid filter node; the message names the problem and the fix."""


@dataclass(frozen=True)
class FilterSet:
    """Filters for preparing a live tail: the request body's two fields."""

    filters: list[dict[str, Any]]
    combination: str = "and"

    def body(self) -> dict[str, Any]:
        """Return the fields to merge into the live-tail request body."""
        if not self.filters:
            return {}
        return {"filters": self.filters, "filterCombination": self.combination}


def lookup(event: Any, key: str) -> tuple[bool, Any]:
    """Find a dotted key such as ``$workers.event.request.method`` in an event.

    Returns (found, value). A key that itself contains dots is found too,
    because at each level the longest matching run of segments is tried first.
    """
    return _lookup(event, key.split("."))


def _lookup(value: Any, parts: list[str]) -> tuple[bool, Any]:
    if not parts:
        return True, value
    if not isinstance(value, Mapping):
        return False, None
    for cut in range(len(parts), 0, -1):
        name = ".".join(parts[:cut])
        if name in value:
            found, result = _lookup(value[name], parts[cut:])
            if found:
                return True, result
    return False, None


def event_matches(
    event: Any, filters: Iterable[Any] | None, combination: str = "and"
) -> bool:
    """Return whether a raw event passes a live-tail filter list.

    An empty or missing list passes every event. Invalid filter nodes are
    rejected with FilterError; call ``validate_filters`` first to collect
    every problem at once.
    """
    nodes = list(filters or [])
    if not nodes:
        return True
    results = (_node_matches(event, node, 1) for node in nodes)
    if _combination(combination) == "or":
        return any(results)
    return all(results)


def _node_matches(event: Any, node: Any, depth: int) -> bool:
    if not isinstance(node, Mapping):
        raise FilterError(f"a filter must be an object, got {compact_json(node)}")
    if node.get("kind") == "group":
        if depth >= MAX_FILTER_DEPTH:
            raise FilterError(f"filter groups nest more than {MAX_FILTER_DEPTH} deep")
        children = [_node_matches(event, c, depth + 1) for c in node.get("filters", [])]
        if _combination(node.get("filterCombination")) == "or":
            return any(children)
        return all(children)
    return leaf_matches(event, node)


def _combination(value: Any) -> str:
    name = str(value or "and").lower()
    if name not in COMBINATIONS:
        raise FilterError(f"invalid filterCombination {value!r}: use and or or")
    return name


def leaf_matches(event: Any, leaf: Mapping[str, Any]) -> bool:
    """Return whether one leaf filter ``{key, operation, type, value}`` holds."""
    key = leaf.get("key")
    if not isinstance(key, str) or not key:
        raise FilterError("a filter needs a non-empty key")
    operation = OPERATIONS.get(str(leaf.get("operation")))
    if operation is None:
        raise FilterError(f"unknown filter operation {leaf.get('operation')!r}")
    kind = leaf.get("type", "string")
    if kind not in FILTER_TYPES:
        raise FilterError(
            f"invalid filter type {kind!r}: use string, number or boolean"
        )

    found, actual = lookup(event, key)
    if not found or actual is None:
        return operation in MISSING_KEY_MATCHES
    if operation == "exists":
        return True
    if operation == "is_null":
        return False
    if isinstance(actual, list):
        # A key whose value is a list passes when any element does.
        return any(
            _compare(item, operation, kind, leaf.get("value")) for item in actual
        )
    return _compare(actual, operation, kind, leaf.get("value"))


def _compare(actual: Any, operation: str, kind: str, expected: Any) -> bool:
    if operation in ("in", "not_in"):
        options = [part.strip() for part in str(expected).split(",")]
        hit = any(_equal(actual, kind, option) for option in options)
        return hit if operation == "in" else not hit
    if kind == "number":
        left, right = _number(actual), _number(expected)
        if left is None or right is None:
            return operation in ("neq", "not_includes")
        return _order(left, right, operation, str(left), str(right))
    if kind == "boolean":
        left_bool, right_bool = _boolean(actual), _boolean(expected)
        if left_bool is None or right_bool is None:
            return operation in ("neq", "not_includes")
        if operation in ("eq", "includes"):
            return left_bool == right_bool
        if operation in ("neq", "not_includes"):
            return left_bool != right_bool
        return False
    text, wanted = _as_string(actual), _as_string(expected)
    return _order(text, wanted, operation, text, wanted)


def _order(left: Any, right: Any, operation: str, text: str, wanted: str) -> bool:
    if operation == "eq":
        return bool(left == right)
    if operation == "neq":
        return bool(left != right)
    if operation == "gt":
        return bool(left > right)
    if operation == "gte":
        return bool(left >= right)
    if operation == "lt":
        return bool(left < right)
    if operation == "lte":
        return bool(left <= right)
    if operation == "includes":
        return wanted in text
    if operation == "not_includes":
        return wanted not in text
    if operation == "starts_with":
        return text.startswith(wanted)
    if operation == "ends_with":
        return text.endswith(wanted)
    if operation == "regex":
        try:
            return re.search(wanted, text) is not None
        except re.error:
            return False
    return False


def _equal(actual: Any, kind: str, option: str) -> bool:
    if kind == "number":
        left, right = _number(actual), _number(option)
        return left is not None and left == right
    if kind == "boolean":
        left_bool = _boolean(actual)
        return left_bool is not None and left_bool == _boolean(option)
    return _as_string(actual) == option


def _as_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number_text(value)
    return compact_json(value)


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def validate_filters(filters: Any, depth: int = 1) -> list[str]:
    """Return every problem in a filter list as a message; empty when valid."""
    if not isinstance(filters, list):
        return ["filters must be a list of filter objects"]
    problems: list[str] = []
    for number, node in enumerate(filters, start=1):
        where = f"filter {number}" if depth == 1 else f"filter {number} (level {depth})"
        if not isinstance(node, Mapping):
            problems.append(f"{where}: must be an object")
            continue
        if node.get("kind") == "group":
            problems.extend(_group_problems(node, where, depth))
        else:
            problems.extend(f"{where}: {p}" for p in leaf_problems(node))
    return problems


def _group_problems(node: Mapping[str, Any], where: str, depth: int) -> list[str]:
    if depth >= MAX_FILTER_DEPTH:
        return [f"{where}: groups nest more than {MAX_FILTER_DEPTH} deep"]
    problems = []
    if str(node.get("filterCombination", "")).lower() not in COMBINATIONS:
        problems.append(f"{where}: a group needs filterCombination and or or")
    children = node.get("filters")
    if not isinstance(children, list) or not children:
        problems.append(f"{where}: a group needs a non-empty filters list")
    else:
        problems.extend(validate_filters(children, depth + 1))
    return problems


def leaf_problems(leaf: Mapping[str, Any]) -> list[str]:
    """Return what is wrong with one leaf filter, as messages without a prefix."""
    problems = []
    key = leaf.get("key")
    if not isinstance(key, str) or not key.strip():
        problems.append("the key is empty: give a field such as $workers.outcome")
    elif key != key.strip():
        problems.append(f"the key {key!r} has spaces at its ends")

    operation = OPERATIONS.get(str(leaf.get("operation")))
    if operation is None:
        names = ", ".join(sorted(set(OPERATIONS.values())))
        problems.append(f"unknown operation {leaf.get('operation')!r}: use {names}")
    kind = leaf.get("type")
    if kind not in FILTER_TYPES:
        problems.append(f"invalid type {kind!r}: use string, number or boolean")
    if operation is None or operation in VALUELESS or kind not in FILTER_TYPES:
        return problems

    value = leaf.get("value")
    if value is None or (isinstance(value, str) and not value.strip()):
        problems.append(f"the operation {operation} needs a value")
        return problems
    values = str(value).split(",") if operation in ("in", "not_in") else [value]
    for item in values:
        if kind == "number" and _number(item) is None:
            problems.append(f"{str(item).strip()!r} is not a number (type is number)")
        if kind == "boolean" and _boolean(item) is None:
            problems.append(f"{item!r} is not true or false (type is boolean)")
    if operation == "regex":
        try:
            re.compile(str(value))
        except re.error as exc:
            problems.append(f"invalid regular expression {value!r}: {exc}")
    return problems


def make_leaf(key: str, operation: str, kind: str, value: str) -> dict[str, Any]:
    """Build a leaf filter from form text, with the value converted to its type.

    Raises FilterError with every problem when the leaf is invalid.
    """
    leaf: dict[str, Any] = {"key": key.strip(), "operation": operation, "type": kind}
    canonical = OPERATIONS.get(operation)
    if canonical not in VALUELESS:
        leaf["value"] = value.strip()
    problems = leaf_problems(leaf)
    if problems:
        raise FilterError("; ".join(problems))
    if "value" in leaf and canonical not in ("in", "not_in"):
        if kind == "number":
            number = _number(leaf["value"])
            assert number is not None
            leaf["value"] = int(number) if number.is_integer() else number
        elif kind == "boolean":
            leaf["value"] = _boolean(leaf["value"])
    return leaf


# Symbols for the operations that have one, in descriptions.
_OPERATION_SYMBOLS = {
    "eq": "=",
    "neq": "!=",
    "gt": ">",
    "gte": ">=",
    "lt": "<",
    "lte": "<=",
}


def describe_filters(filters: Iterable[Any], combination: str = "and") -> str:
    """Return a filter list as one readable line, such as ``a = 1 and b exists``.

    Groups are shown in brackets. Invalid nodes are shown as compact JSON.
    """
    return f" {combination.lower()} ".join(_describe_node(node) for node in filters)


def _describe_node(node: Any) -> str:
    if not isinstance(node, Mapping):
        return compact_json(node)
    if node.get("kind") == "group":
        children = node.get("filters")
        if not isinstance(children, list):
            return compact_json(node)
        combination = str(node.get("filterCombination", "and"))
        return f"({describe_filters(children, combination)})"
    key = node.get("key")
    operation = OPERATIONS.get(str(node.get("operation")))
    if not isinstance(key, str) or operation is None:
        return compact_json(node)
    if operation == "exists":
        return f"{key} exists"
    if operation == "is_null":
        return f"{key} does not exist"
    value = node.get("value")
    text = value if isinstance(value, str) else compact_json(value)
    if isinstance(value, str) and (not value or value != value.strip()):
        text = compact_json(value)
    symbol = _OPERATION_SYMBOLS.get(operation, operation.replace("_", " "))
    return f"{key} {symbol} {text}"
