"""wrangler tail's filter flags against the demo live tail's real WebSocket."""

from __future__ import annotations

import collections
import ipaddress

from tests.apphelpers import wait_for
from tui import tail_filters
from tui.api import CloudflareClient
from tui.cli import build_parser
from tui.client_filter import ClientFilter
from tui.credentials import Credential
from tui.demo import data
from tui.demo.server import DEMO_TOKEN, DemoServer
from tui.engine import HeartbeatSession
from tui.events import FAILED_OUTCOMES, EventLine
from tui.session_stream import SessionStream
from tui.tail_filters import TailFilters

CREDENTIAL = Credential.api_token(DEMO_TOKEN, "the demo API")
ACCOUNT = next(a["id"] for a in data.ACCOUNTS if a["name"] == "Acme Robotics")
# A Worker whose only handler is fetch, so its invocations carry requests.
SCRIPT = "search-proxy"
MINORITY_VERSION = "3f1e9b27-6a0c-4d5e-8b7f-2c9d1e0a6b53"


def filters_for(*argv: str) -> TailFilters:
    return tail_filters.from_args(build_parser().parse_args(list(argv)))


async def collect(
    demo: DemoServer, filters: TailFilters, count: int
) -> tuple[list[EventLine], SessionStream]:
    """Stream until ``count`` events passed every filter; return them."""
    assert data.WORKER_HANDLERS[SCRIPT] == ("fetch",)
    client = CloudflareClient(demo.base_url, CREDENTIAL)
    session = HeartbeatSession(
        client, ACCOUNT, "Acme Robotics", SCRIPT, 30, filters=filters.server
    )
    events = SessionStream(
        session,
        base_url=demo.base_url,
        credential=CREDENTIAL,
        client_filter=filters.client,
    )
    try:
        assert await session.refresh_ws_url() is not None
        events.follow()
        assert await wait_for(lambda: events.stream.received >= count, timeout=8)
    finally:
        await events.stop()
        await session.stop()
    return list(events.stream.events), events


def request_of(line: EventLine) -> dict:
    return line.raw.get("$workers", {}).get("event", {}).get("request", {})


async def test_server_side_flags_reach_demo_filter():
    filters = filters_for(
        "--status", "error", "--status", "ok", "--method", "POST", "--method", "PUT"
    )
    with DemoServer(latency=(0.0, 0.0), seed=21, event_rate=3000) as demo:
        lines, _ = await collect(demo, filters, 60)
        body = [r for r in demo.requests if r.path.endswith("/live-tail")][-1].json()
    assert body["filters"] == filters.server
    assert body["filterCombination"] == "and"
    outcomes = {line.outcome for line in lines}
    methods = {request_of(line).get("method") for line in lines}
    assert methods == {"POST", "PUT"}
    assert "ok" in outcomes
    assert outcomes <= FAILED_OUTCOMES | {"ok"}


async def test_version_id_keeps_one_version():
    filters = filters_for("--version-id", MINORITY_VERSION)
    with DemoServer(latency=(0.0, 0.0), seed=22, event_rate=3000) as demo:
        lines, _ = await collect(demo, filters, 40)
        generated = demo.live_tail.sessions()[0].generator.count
    versions = {line.raw["$workers"]["scriptVersion"]["id"] for line in lines}
    assert versions == {MINORITY_VERSION}
    # The other version and the console logs, which carry no version, stayed
    # on the server.
    assert generated > 3 * len(lines)


async def test_search_matches_console_messages():
    filters = filters_for("--search", "signed in")
    with DemoServer(latency=(0.0, 0.0), seed=23, event_rate=3000) as demo:
        lines, _ = await collect(demo, filters, 10)
    for line in lines:
        assert "signed in" in line.raw["$metadata"]["message"], line.raw


async def test_header_filter_on_demo_stream():
    filters = filters_for("--header", "X-Requested-With:XMLHttpRequest")
    with DemoServer(latency=(0.0, 0.0), seed=24, event_rate=3000) as demo:
        lines, events = await collect(demo, filters, 40)
    for line in lines:
        headers = request_of(line)["headers"]
        assert headers["x-requested-with"] == "XMLHttpRequest", line.raw
    # Console logs and requests without the header were dropped here.
    assert events.stream.filtered_out > len(lines)


async def test_ip_filter_on_demo_stream():
    # The demo sends this address as 2001:db8::1f; any spelling matches.
    filters = filters_for("--ip", "2001:db8:0:0:0:0:0:1f", "--ip", "192.0.2.150")
    with DemoServer(latency=(0.0, 0.0), seed=25, event_rate=3000) as demo:
        lines, events = await collect(demo, filters, 40)
    addresses = collections.Counter(
        request_of(line)["headers"]["cf-connecting-ip"] for line in lines
    )
    assert set(addresses) == {"2001:db8::1f", "192.0.2.150"}
    assert events.stream.filtered_out > len(lines)
    for address in addresses:
        assert ipaddress.ip_address(address) in filters.client.addresses


class RecordingFilter(ClientFilter):
    """A ClientFilter that remembers its verdict for every request id."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.verdicts: dict[str | None, set[bool]] = collections.defaultdict(set)

    def accepts(self, line: EventLine) -> bool:
        verdict = super().accepts(line)
        self.verdicts[line.request_id].add(verdict)
        return verdict


async def test_sampling_on_demo_stream():
    recorder = RecordingFilter(sampling_rate=0.25)
    filters = TailFilters([], recorder)
    with DemoServer(latency=(0.0, 0.0), seed=26, event_rate=3000) as demo:
        lines, events = await collect(demo, filters, 300)
    seen = events.stream.received + events.stream.filtered_out
    share = events.stream.received / seen
    assert 0.15 < share < 0.35, (events.stream.received, seen)
    # An invocation and its console logs are kept or dropped together.
    for request_id, verdicts in recorder.verdicts.items():
        assert len(verdicts) == 1, request_id
    assert len(lines) == events.stream.received
