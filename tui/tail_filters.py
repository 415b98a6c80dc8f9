"""wrangler tail's filter flags, as live-tail filters and client-side checks.

Where the Workers Observability event format has a key for what a flag
selects (``--status``, ``--method``, ``--search``, ``--version-id``), the flag
becomes a live-tail filter that is sent when the tail is prepared, so the
server drops the other events. Request headers and the client's IP address
have no documented key, and sampling has no server-side form, so ``--header``,
``--ip`` and ``--sampling-rate`` become a ``ClientFilter`` (``tui.client_filter``)
that checks each event as it arrives.

The values of one repeated flag are alternatives (any may match), and
different flags must all match. This module imports no Textual, and
defers its other imports to the functions that need them, because the command
line parser loads it on every start.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tui.client_filter import (
    ClientFilter,
    HeaderMatch,
    IPAddress,
    make_client_filter,
    plain_address,
)

if TYPE_CHECKING:
    from tui.filters import FilterSet

OUTCOME_KEY = "$workers.outcome"
METHOD_KEY = "$workers.event.request.method"
MESSAGE_KEY = "$metadata.message"
VERSION_KEY = "$workers.scriptVersion.id"
STATUS_VALUES = ("ok", "error", "canceled")
# Characters allowed in an HTTP method or header name (RFC 9110 "token").
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


class FlagError(ValueError):
    """An invalid filter flag value, with a message that names what to give."""


# ---------------------------------------------------------------------------
# Checking one flag value
# ---------------------------------------------------------------------------


def parse_status(text: str) -> str:
    status = text.strip().lower()
    if status not in STATUS_VALUES:
        raise FlagError(f"invalid status {text!r}: use ok, error or canceled")
    return status


def parse_method(text: str) -> str:
    method = text.strip()
    if not _TOKEN.fullmatch(method):
        raise FlagError(
            f"invalid method {text!r}: give an HTTP method such as GET or POST"
        )
    return method.upper()


def parse_search(text: str) -> str:
    if not text.strip():
        raise FlagError("the search text is empty: give some text to look for")
    return text


def parse_version_id(text: str) -> str:
    import uuid

    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        raise FlagError(
            f"invalid version id {text!r}: give a Worker version id, a UUID such "
            "as 8c2c5a3e-5d1b-4a2e-9c61-0d7f3e1b2a40"
        ) from None


def parse_ip(text: str) -> IPAddress:
    value = text.strip()
    if value.lower() == "self":
        raise FlagError(
            "'self' cannot be resolved: none of the Cloudflare API operations this "
            "app uses reports your own IP address, so give the address itself, "
            "for example --ip 203.0.113.7"
        )
    try:
        return plain_address(ipaddress.ip_address(value))
    except ValueError:
        raise FlagError(
            f"invalid IP address {text!r}: give an IPv4 or IPv6 address such as "
            "203.0.113.7 or 2001:db8::1"
        ) from None


def parse_sampling_rate(text: str) -> float:
    try:
        rate = float(text.strip())
    except ValueError:
        rate = math.nan
    if not (math.isfinite(rate) and 0 < rate <= 1):
        raise FlagError(
            f"invalid sampling rate {text!r}: give a share of events greater than "
            "0 and at most 1, for example 0.1 for 10%"
        )
    return rate


def parse_header(text: str) -> HeaderMatch:
    name, colon, value = text.partition(":")
    name = name.strip()
    if not _TOKEN.fullmatch(name):
        raise FlagError(
            f"invalid header {text!r}: give NAME or NAME:VALUE, for example "
            "user-agent or x-tenant:acme"
        )
    if not colon:
        return HeaderMatch(name.lower())
    value = value.strip()
    if not value:
        raise FlagError(
            f"invalid header {text!r}: the value after ':' is empty, so give the "
            "name alone to match any value"
        )
    return HeaderMatch(name.lower(), value)


# ---------------------------------------------------------------------------
# Server-side filters
# ---------------------------------------------------------------------------


def _leaf(key: str, operation: str, value: str) -> dict[str, Any]:
    return {"key": key, "operation": operation, "type": "string", "value": value}


def _any_of(nodes: list[dict[str, Any]]) -> dict[str, Any]:
    """Return one node, or an "or" group of several."""
    if len(nodes) == 1:
        return nodes[0]
    return {"kind": "group", "filterCombination": "or", "filters": nodes}


def _unique(values: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


def status_node(statuses: Sequence[str]) -> dict[str, Any]:
    """Build the filter node of ``--status`` values (ok, error, canceled)."""
    from tui.events import FAILED_OUTCOME_NAMES

    nodes = []
    for status in _unique(statuses):
        if status == "error":
            # `in` takes comma-separated values, as the API documents.
            nodes.append(_leaf(OUTCOME_KEY, "in", ",".join(FAILED_OUTCOME_NAMES)))
        else:
            nodes.append(_leaf(OUTCOME_KEY, "eq", status))
    return _any_of(nodes)


def method_node(methods: Sequence[str]) -> dict[str, Any]:
    return _any_of([_leaf(METHOD_KEY, "eq", m) for m in _unique(methods)])


def search_node(text: str) -> dict[str, Any]:
    return _leaf(MESSAGE_KEY, "includes", text)


def version_node(version_id: str) -> dict[str, Any]:
    return _leaf(VERSION_KEY, "eq", version_id)


# ---------------------------------------------------------------------------
# Flags on the command line
# ---------------------------------------------------------------------------


class _FlagParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise FlagError(message)


def _argparse_type(parse: Any) -> Any:
    """Wrap a parse function so argparse shows its FlagError message."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except FlagError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__
    return convert


def add_client_flags(parser: argparse._ActionsContainer) -> None:
    parser.add_argument(
        "--header",
        metavar="NAME[:VALUE]",
        action="append",
        type=_argparse_type(parse_header),
        help="only requests with this header, or with this value (client-side; "
        "repeat for any of several)",
    )
    parser.add_argument(
        "--ip",
        metavar="ADDRESS",
        action="append",
        type=_argparse_type(parse_ip),
        help="only requests from this client IP address, from the cf-connecting-ip "
        "header (client-side; repeat for any of several)",
    )
    parser.add_argument(
        "--sampling-rate",
        metavar="R",
        type=_argparse_type(parse_sampling_rate),
        help="keep this share of events, greater than 0 and at most 1; whole "
        "requests are kept or dropped (client-side)",
    )


def add_server_flags(parser: argparse._ActionsContainer) -> None:
    parser.add_argument(
        "--status",
        metavar="STATUS",
        action="append",
        type=_argparse_type(parse_status),
        help="only invocations with this outcome: ok, error or canceled (repeat "
        "for any of several)",
    )
    parser.add_argument(
        "--method",
        metavar="METHOD",
        action="append",
        type=_argparse_type(parse_method),
        help="only requests with this HTTP method (repeat for any of several)",
    )
    parser.add_argument(
        "--search",
        metavar="TEXT",
        type=_argparse_type(parse_search),
        help="only console messages that contain TEXT (case-sensitive)",
    )
    parser.add_argument(
        "--version-id",
        metavar="ID",
        type=_argparse_type(parse_version_id),
        help="only events of this Worker version",
    )


def parse_client_flags(text: str) -> ClientFilter:
    """Build a ClientFilter from flags typed as on the command line.

    Raises FlagError with a one-line message for any invalid flag or value.
    """
    import shlex

    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise FlagError(f"cannot split the flags: {exc}") from None
    parser = _FlagParser(prog="client-side filters", add_help=False)
    add_client_flags(parser)
    try:
        args = parser.parse_args(words)
    except FlagError as exc:
        if not str(exc).startswith("unrecognized arguments"):
            raise
        raise FlagError(
            f"{exc}: only --header, --ip and --sampling-rate are client-side"
        ) from None
    return make_client_filter(args.header or (), args.ip or (), args.sampling_rate)


# ---------------------------------------------------------------------------
# Both together
# ---------------------------------------------------------------------------


@dataclass
class TailFilters:
    """The live-tail filters to prepare with, and the checks done on arrival.

    ``server`` nodes all must match (filterCombination "and").
    """

    server: list[dict[str, Any]] = field(default_factory=list)
    client: ClientFilter = field(default_factory=ClientFilter)

    @property
    def active(self) -> bool:
        return bool(self.server) or self.client.active

    def filter_set(self) -> FilterSet:
        from tui.filters import FilterSet

        return FilterSet(list(self.server), "and")

    def describe(self) -> list[str]:
        """Return one line for the server-side and one for the client-side part."""
        from tui.filters import describe_filters

        lines = []
        if self.server:
            text = describe_filters(self.server, "and")
            lines.append(f"server-side filters: {text}")
        if self.client.active:
            lines.append(f"client-side filters: {self.client.describe()}")
        return lines


def from_args(args: argparse.Namespace) -> TailFilters:
    """Build the filters from parsed flags (values were checked by argparse)."""
    server: list[dict[str, Any]] = []
    if args.status:
        server.append(status_node(args.status))
    if args.method:
        server.append(method_node(args.method))
    if args.search is not None:
        server.append(search_node(args.search))
    if args.version_id is not None:
        server.append(version_node(args.version_id))
    client = make_client_filter(args.header or (), args.ip or (), args.sampling_rate)
    return TailFilters(server, client)


FLAG_NAMES = (
    "--status",
    "--method",
    "--search",
    "--version-id",
    "--header",
    "--ip",
    "--sampling-rate",
)


def used_filter_flags(args: argparse.Namespace) -> list[str]:
    """Return the filter flags on the command line, in FLAG_NAMES order."""
    used = []
    for flag in FLAG_NAMES:
        value = getattr(args, flag[2:].replace("-", "_"), None)
        if value is not None and value != []:
            used.append(flag)
    return used
