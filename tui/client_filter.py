"""Client-side event filters: request header, client IP address and sampling.

The live tail has no documented key for request headers or the client's
address, and no server-side sampling, so these checks run on each event as
it arrives (``--header``, ``--ip`` and ``--sampling-rate``). This module
imports no Textual.
"""

from __future__ import annotations

import hashlib
import ipaddress
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tui.events import EventLine

# Paths of the request headers in the two event shapes: Workers Observability
# (`$workers.event.request`) and the older wrangler tail (`event.request`).
HEADER_PATHS = (
    ("$workers", "event", "request", "headers"),
    ("event", "request", "headers"),
)
# The header that carries the client's address on requests through Cloudflare.
CLIENT_IP_HEADER = "cf-connecting-ip"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class HeaderMatch:
    """A request header that must be present, with ``value`` if that is set."""

    name: str
    value: str | None = None

    def text(self) -> str:
        """Return the match as ``--header`` takes it: NAME or NAME:VALUE."""
        return self.name if self.value is None else f"{self.name}:{self.value}"

    def matches(self, headers: Mapping[str, list[str]]) -> bool:
        values = headers.get(self.name)
        if not values:
            return False
        return self.value is None or self.value in values


def request_headers(event: Any) -> dict[str, list[str]]:
    """Return an event's request headers by lower-case name, or {} if it has none.

    Headers may come as an object of name to value, a list of [name, value]
    pairs or a list of {name, value} objects.
    """
    for path in HEADER_PATHS:
        value: Any = event
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        if value is not None:
            return _header_dict(value)
    return {}


def _header_dict(value: Any) -> dict[str, list[str]]:
    pairs: list[tuple[Any, Any]] = []
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, list | tuple) and len(item) == 2:
                pairs.append((item[0], item[1]))
            elif isinstance(item, Mapping):
                pairs.append((item.get("name"), item.get("value")))
    headers: dict[str, list[str]] = {}
    for name, header_value in pairs:
        if not isinstance(name, str):
            continue
        items = header_value if isinstance(header_value, list) else [header_value]
        texts = [str(item).strip() for item in items if item is not None]
        headers.setdefault(name.strip().lower(), []).extend(texts)
    return headers


def client_address(headers: Mapping[str, list[str]]) -> IPAddress | None:
    """Return the client's address from ``cf-connecting-ip``, if it is valid."""
    for value in headers.get(CLIENT_IP_HEADER, []):
        try:
            return plain_address(ipaddress.ip_address(value))
        except ValueError:
            continue
    return None


def plain_address(address: IPAddress) -> IPAddress:
    """Return an IPv4-mapped IPv6 address as IPv4, so both spellings compare equal."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _percent(rate: float) -> str:
    return f"{rate * 100:.4g}%"


@dataclass
class ClientFilter:
    """Checks that run on each received event, for what the server cannot filter.

    An event passes when one of ``headers`` matches (if any are set), when
    its client address is one of ``addresses`` (if any are set), and when it
    falls in the sample. Sampling keeps or drops whole requests: the choice
    comes from a hash of the request id, so an invocation and its console
    logs share it. Events without a request id are sampled with ``rng``.
    """

    headers: tuple[HeaderMatch, ...] = ()
    addresses: tuple[IPAddress, ...] = ()
    sampling_rate: float | None = None
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    @property
    def active(self) -> bool:
        return bool(self.headers or self.addresses or self.sampling_rate is not None)

    def accepts(self, line: EventLine) -> bool:
        """Return whether an event passes every client-side check."""
        if self.headers or self.addresses:
            headers = request_headers(line.raw)
            if self.headers and not any(h.matches(headers) for h in self.headers):
                return False
            if self.addresses and client_address(headers) not in self.addresses:
                return False
        if self.sampling_rate is not None:
            return self._sampled(line.request_id, self.sampling_rate)
        return True

    def _sampled(self, request_id: str | None, rate: float) -> bool:
        if request_id is None:
            return self.rng.random() < rate
        digest = hashlib.blake2b(request_id.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64 < rate

    def describe(self) -> str:
        """Return the checks as one line: "IP 192.0.2.1 · sampling 10% of events"."""
        parts = []
        if self.headers:
            parts.append("header " + " or ".join(h.text() for h in self.headers))
        if self.addresses:
            parts.append("IP " + " or ".join(str(a) for a in self.addresses))
        if self.sampling_rate is not None:
            parts.append(f"sampling {_percent(self.sampling_rate)} of events")
        return " · ".join(parts)

    def flags(self) -> list[str]:
        """Return the command-line flags that build this filter."""
        words: list[str] = []
        for header in self.headers:
            words += ["--header", header.text()]
        for address in self.addresses:
            words += ["--ip", str(address)]
        if self.sampling_rate is not None:
            words += ["--sampling-rate", f"{self.sampling_rate:g}"]
        return words


def make_client_filter(
    headers: Iterable[HeaderMatch] = (),
    addresses: Iterable[IPAddress] = (),
    sampling_rate: float | None = None,
) -> ClientFilter:
    """Build a ClientFilter with repeated values removed."""
    return ClientFilter(
        tuple(_unique(headers)), tuple(_unique(addresses)), sampling_rate
    )


def _unique(values: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(values))
