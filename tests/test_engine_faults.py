"""Fault-injection tests of the heartbeat engine and API client.

Each test drives a real HeartbeatSession and CloudflareClient against a
FaultServer on loopback. The jitter source returns 0, so a backoff is half its
ceiling: 0.5 s after the first failure at a 1 s interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email.utils
import itertools
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.faultserver import FaultServer, RecordedRequest, Reply, envelope
from tui import envelope as env
from tui.api import MAX_BODY, CloudflareClient
from tui.credentials import Credential
from tui.engine import HeartbeatSession, State, backoff_delay, deadline_for
from tui.history import Beat, HistoryStore

ACCOUNT_ID = "0123456789abcdef0123456789abcdef"
ACCOUNT_NAME = "Test account"
SCRIPT = "my-worker"
RAY = "8f3a1c2b4d5e6f70-LHR"
HEARTBEAT = "live-tail/heartbeat"
INTERVAL = 1.0
# Backoff after the first failure at INTERVAL with the jitter source at 0.
FIRST_BACKOFF = 0.5
# Allowed error, in seconds, of a time measured through the event loop and
# loopback TCP.
TOLERANCE = 0.15


def no_jitter() -> float:
    return 0.0


@dataclass
class Snapshot:
    """The session as it was when it reported a status change."""

    state: State
    beats_sent: int
    failures: int
    # Seconds from that moment to next_due, or None when nothing is due.
    wait: float | None


@dataclass
class Run:
    """A session under test, with everything its callbacks reported."""

    server: FaultServer
    clock: Callable[[], float]
    session: HeartbeatSession = field(init=False)
    beats: list[Beat] = field(default_factory=list)
    snapshots: list[Snapshot] = field(default_factory=list)

    def on_status(self, session: HeartbeatSession) -> None:
        wait = None if session.next_due is None else session.next_due - self.clock()
        self.snapshots.append(
            Snapshot(session.state, session.beats_sent, session.failures, wait)
        )

    def rows(self) -> list[Beat]:
        """Return the session's history rows, oldest first."""
        return list(reversed(self.session.store.beats(self.session.session_id)))

    def heartbeats(self) -> list[RecordedRequest]:
        return [r for r in self.server.requests if r.path.endswith(HEARTBEAT)]

    async def decision(self, beat_number: int, timeout: float = 3.0) -> Snapshot:
        """Wait for the scheduling decision that followed beat ``beat_number``.

        Beat 0 is the prepare call: its decision exists only when it failed.
        """

        def find() -> Snapshot | None:
            for snapshot in self.snapshots:
                if snapshot.beats_sent == beat_number:
                    return snapshot
            return None

        await wait_until(lambda: find() is not None, timeout, f"beat {beat_number}")
        snapshot = find()
        assert snapshot is not None
        return snapshot

    async def wait_heartbeats(self, count: int, timeout: float = 3.0) -> None:
        await wait_until(
            lambda: len(self.heartbeats()) >= count,
            timeout,
            f"{count} heartbeat requests",
        )


async def wait_until(
    predicate: Callable[[], bool], timeout: float, description: str
) -> None:
    """Poll ``predicate`` on the event loop until it holds, or fail the test."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout} s waiting for {description}"
            )
        await asyncio.sleep(0.005)


def http_date(timestamp: float) -> str:
    when = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    return email.utils.format_datetime(when, usegmt=True)


def gaps(requests: list[RecordedRequest]) -> list[float]:
    return [b.arrived_at - a.arrived_at for a, b in itertools.pairwise(requests)]


class FakeClock:
    """A clock that follows the real one, plus an offset the test can jump."""

    def __init__(self, base: Callable[[], float]):
        self.base = base
        self.offset = 0.0

    def __call__(self) -> float:
        return self.base() + self.offset


class InFlightCounter:
    """A wrapper of a client's heartbeat call that records the peak concurrency."""

    def __init__(self, client: CloudflareClient, monkeypatch: pytest.MonkeyPatch):
        self.current = 0
        self.peak = 0
        self._original = client.heartbeat
        monkeypatch.setattr(client, "heartbeat", self._heartbeat)

    async def _heartbeat(self, *args: Any, **kwargs: Any) -> env.CallResult:
        self.current += 1
        self.peak = max(self.peak, self.current)
        try:
            return await self._original(*args, **kwargs)
        finally:
            self.current -= 1


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as fault_server:
        yield fault_server


SessionFactory = Callable[..., Run]


@pytest.fixture
async def start_session() -> AsyncIterator[SessionFactory]:
    """Return a factory that starts sessions, and stop them all after the test."""
    runs: list[Run] = []

    def start(
        server: FaultServer,
        interval: float = INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        rng: Callable[[], float] = no_jitter,
    ) -> Run:
        client = CloudflareClient(
            server.base_url,
            Credential.api_token("test-token", source="test"),
            timeout=5.0,
        )
        run = Run(server, clock)
        run.session = HeartbeatSession(
            client,
            ACCOUNT_ID,
            ACCOUNT_NAME,
            SCRIPT,
            interval,
            store=HistoryStore(None),
            on_beat=run.beats.append,
            on_status=run.on_status,
            clock=clock,
            wall=wall,
            rng=rng,
        )
        run.session.start()
        runs.append(run)
        return run

    yield start
    for run in runs:
        await run.session.stop()


# One reply per outcome, sent as the first heartbeat after a successful prepare.


@dataclass
class OutcomeCase:
    name: str
    reply: Callable[[], Reply]
    outcome: str
    # Expected seconds from the scheduling decision to next_due, or None
    # for a fatal outcome.
    wait: float | None
    http_status: int | None
    # Text the history row's message must contain.
    message_parts: tuple[str, ...]
    ray: str | None = RAY
    wait_tolerance: float = TOLERANCE


def ray_headers() -> dict[str, str]:
    return {"cf-ray": RAY}


OUTCOME_CASES = [
    OutcomeCase(
        "ok",
        lambda: Reply(headers=ray_headers()),
        env.OK,
        INTERVAL,
        200,
        ("heartbeat accepted",),
    ),
    OutcomeCase(
        "ok_documented_errors_entry",
        lambda: Reply(
            headers=ray_headers(),
            body=envelope(errors=[{"message": "message"}]),
        ),
        env.OK,
        INTERVAL,
        200,
        ("heartbeat accepted",),
    ),
    OutcomeCase(
        "ok_auth_code_in_errors",
        lambda: Reply(
            headers=ray_headers(),
            body=envelope(errors=[{"code": 10000, "message": "Authentication error"}]),
        ),
        env.OK,
        INTERVAL,
        200,
        ("heartbeat accepted",),
    ),
    OutcomeCase(
        "auth_failed_403",
        lambda: Reply.envelope_error(403, 10000, "Authentication error"),
        env.AUTH_FAILED,
        None,
        403,
        ("HTTP 403", "10000 Authentication error", f"cf-ray {RAY}", "permission"),
    ),
    OutcomeCase(
        "auth_failed_401_html",
        lambda: Reply.html(401, "Unauthorized", headers=ray_headers()),
        env.AUTH_FAILED,
        None,
        401,
        ("HTTP 401", "401 Unauthorized", f"cf-ray {RAY}"),
    ),
    OutcomeCase(
        "auth_failed_code_9109",
        lambda: Reply.envelope_error(400, 9109, "Unauthorized to access"),
        env.AUTH_FAILED,
        None,
        400,
        ("HTTP 400", "9109 Unauthorized to access", f"cf-ray {RAY}"),
    ),
    OutcomeCase(
        "not_found_10007",
        lambda: Reply.envelope_error(404, 10007, "script not found"),
        env.NOT_FOUND,
        None,
        404,
        ("HTTP 404", "10007 script not found", f"cf-ray {RAY}", SCRIPT, ACCOUNT_ID),
    ),
    OutcomeCase(
        "not_found_7003",
        lambda: Reply.envelope_error(400, 7003, "No route for the URI"),
        env.NOT_FOUND,
        None,
        400,
        ("HTTP 400", "7003 No route for the URI", f"cf-ray {RAY}"),
    ),
    OutcomeCase(
        "too_busy_10057",
        lambda: Reply.envelope_error(400, 10057, "too many events"),
        env.TOO_BUSY,
        None,
        400,
        ("HTTP 400", "10057 too many events", "too much traffic", f"cf-ray {RAY}"),
    ),
    OutcomeCase(
        "rate_limited_seconds",
        lambda: Reply.rate_limited(retry_after=2),
        env.RATE_LIMITED,
        2.0,
        429,
        ("HTTP 429", "971 ", "rate limited", f"cf-ray {RAY}"),
    ),
    OutcomeCase(
        "rate_limited_http_date",
        lambda: Reply.rate_limited(retry_after=http_date(time.time() + 30)),
        env.RATE_LIMITED,
        # HTTP dates have whole seconds, so the wait is 29 s to 30 s.
        29.5,
        429,
        ("HTTP 429", "rate limited", f"cf-ray {RAY}"),
        wait_tolerance=0.5 + TOLERANCE,
    ),
    OutcomeCase(
        "rate_limited_without_retry_after",
        lambda: Reply(status=429, headers=ray_headers(), body=b""),
        env.RATE_LIMITED,
        FIRST_BACKOFF,
        429,
        ("HTTP 429", "rate limited", f"cf-ray {RAY}"),
    ),
    OutcomeCase(
        "server_error_500",
        lambda: Reply.envelope_error(500, 10001, "Internal error"),
        env.SERVER_ERROR,
        FIRST_BACKOFF,
        500,
        ("HTTP 500", "10001 Internal error", f"cf-ray {RAY}"),
    ),
    OutcomeCase(
        "server_error_502_html",
        lambda: Reply.html(502, "Bad gateway", headers=ray_headers()),
        env.SERVER_ERROR,
        FIRST_BACKOFF,
        502,
        ("HTTP 502", "HTML", "502 Bad gateway", f"cf-ray {RAY}"),
    ),
    OutcomeCase(
        "bad_response_html_200",
        lambda: Reply.html(200, "Sign in", headers=ray_headers()),
        env.BAD_RESPONSE,
        FIRST_BACKOFF,
        200,
        ("HTTP 200", "HTML", "200 Sign in", f"cf-ray {RAY}"),
    ),
    OutcomeCase(
        "bad_response_empty",
        lambda: Reply(headers=ray_headers(), body=b""),
        env.BAD_RESPONSE,
        FIRST_BACKOFF,
        200,
        ("HTTP 200", "empty", f"cf-ray {RAY}"),
    ),
    OutcomeCase(
        "bad_response_truncated_json",
        lambda: Reply(headers=ray_headers(), drop="truncated_json"),
        env.BAD_RESPONSE,
        FIRST_BACKOFF,
        200,
        ("HTTP 200", "not valid JSON", f"cf-ray {RAY}"),
    ),
    OutcomeCase(
        "bad_response_no_success",
        lambda: Reply(headers=ray_headers(), body={"result": {}}),
        env.BAD_RESPONSE,
        FIRST_BACKOFF,
        200,
        ("HTTP 200", "no 'success' field", f"cf-ray {RAY}"),
    ),
    OutcomeCase(
        "network_error_reset",
        lambda: Reply(drop="reset"),
        env.NETWORK_ERROR,
        FIRST_BACKOFF,
        None,
        ("connection reset",),
        ray=None,
    ),
    OutcomeCase(
        "network_error_before_headers",
        lambda: Reply(drop="before_headers"),
        env.NETWORK_ERROR,
        FIRST_BACKOFF,
        None,
        ("connection dropped",),
        ray=None,
    ),
    OutcomeCase(
        "network_error_mid_body",
        lambda: Reply(drop="mid_body"),
        env.NETWORK_ERROR,
        FIRST_BACKOFF,
        None,
        ("connection dropped",),
        ray=None,
    ),
    OutcomeCase(
        "rejected_other_code",
        lambda: Reply.envelope_error(400, 1234, "Invalid filter"),
        env.REJECTED,
        None,
        400,
        ("HTTP 400", "1234 Invalid filter", f"cf-ray {RAY}"),
    ),
    OutcomeCase(
        "rejected_success_false",
        lambda: Reply(headers=ray_headers(), body=envelope(success=False)),
        env.REJECTED,
        None,
        200,
        ("HTTP 200", "without an error message", f"cf-ray {RAY}"),
    ),
    OutcomeCase(
        "rejected_redirect",
        lambda: Reply(
            status=302,
            headers={"cf-ray": RAY, "location": "https://example.invalid/login"},
        ),
        env.REJECTED,
        None,
        302,
        ("HTTP 302", "not followed", "https://example.invalid/login"),
    ),
]


@pytest.mark.parametrize("case", OUTCOME_CASES, ids=lambda case: case.name)
async def test_outcome_row_state_and_schedule(
    server: FaultServer, start_session: SessionFactory, case: OutcomeCase
) -> None:
    server.enqueue(case.reply(), path_contains=HEARTBEAT)

    run = start_session(server)
    decision = await run.decision(1)

    [row] = run.rows()
    assert row.outcome == case.outcome
    assert row.ok is (case.outcome == env.OK)
    assert row.http_status == case.http_status
    assert row.ray == case.ray
    assert row.gap_s is None
    for part in case.message_parts:
        assert part in row.message
    assert "<" not in row.message
    assert "\n" not in row.message
    assert run.beats[0].outcome == case.outcome

    if case.outcome == env.OK:
        assert decision.state is State.ALIVE
        assert decision.failures == 0
    else:
        fatal = case.outcome in env.FATAL_OUTCOMES
        assert decision.state is (State.FAILED if fatal else State.RETRYING)
        assert decision.failures == 1
        assert run.session.last_error == row.message
    if case.wait is None:
        assert decision.wait is None
    else:
        assert decision.wait is not None
        assert decision.wait == pytest.approx(case.wait, abs=case.wait_tolerance)


async def test_fatal_outcomes_send_nothing_more(start_session: SessionFactory) -> None:
    fatal_cases = [case for case in OUTCOME_CASES if case.wait is None]
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(FaultServer()) for _ in fatal_cases]
        runs = []
        for server, case in zip(servers, fatal_cases, strict=True):
            server.enqueue(case.reply(), path_contains=HEARTBEAT)
            runs.append(start_session(server))
        for run in runs:
            await run.decision(1)

        # Longer than the interval plus the first backoff, so a scheduled beat
        # or a retry would have arrived.
        await asyncio.sleep(2 * INTERVAL)

        for run, case in zip(runs, fatal_cases, strict=True):
            assert len(run.server.requests) == 2, case.name
            assert run.session.state is State.FAILED, case.name
            assert run.session.next_due is None, case.name
            assert run.session.seconds_to_next() is None, case.name
        for run in runs:
            await run.session.stop()


async def test_timeout_ends_within_deadline(
    server: FaultServer, start_session: SessionFactory
) -> None:
    deadline = deadline_for(INTERVAL)
    # 200 bytes at 20 ms each take 4 s, far past the deadline.
    server.enqueue(Reply(body=b" " * 200, trickle=0.02), path_contains=HEARTBEAT)

    run = start_session(server)
    decision = await run.decision(1)

    [row] = run.rows()
    assert row.outcome == env.TIMEOUT
    assert row.http_status is None
    assert f"no complete reply within {deadline:g} s" in row.message
    assert row.latency_ms >= deadline * 1000 - 10
    assert row.latency_ms <= deadline * 1000 + 150
    assert decision.state is State.RETRYING
    assert decision.wait == pytest.approx(FIRST_BACKOFF, abs=TOLERANCE)


# Rate limits and backoff.


async def test_retry_after_seconds_delays_retry(
    server: FaultServer, start_session: SessionFactory
) -> None:
    server.enqueue(Reply.rate_limited(retry_after=2), path_contains=HEARTBEAT)

    run = start_session(server)
    await run.wait_heartbeats(2, timeout=4.0)

    limited, retry = run.heartbeats()
    assert retry.arrived_at - limited.arrived_at == pytest.approx(2.0, abs=TOLERANCE)
    await run.decision(2)
    assert run.session.state is State.ALIVE
    assert run.session.failures == 0


async def test_retry_after_date_delays_retry(
    server: FaultServer, start_session: SessionFactory
) -> None:
    # HTTP dates have whole seconds, so the wait is between 2 s and 3 s.
    retry_at = http_date(time.time() + 3)
    server.enqueue(Reply.rate_limited(retry_after=retry_at), path_contains=HEARTBEAT)

    run = start_session(server)
    await run.wait_heartbeats(2, timeout=5.0)

    limited, retry = run.heartbeats()
    assert retry.arrived_at - limited.arrived_at >= 2.0 - TOLERANCE
    assert retry.arrived_at - limited.arrived_at <= 3.0 + TOLERANCE


@pytest.mark.parametrize("retry_after", ["0", "Thu, 01 Jan 1970 00:00:00 GMT"])
async def test_retry_after_zero_still_backs_off(
    server: FaultServer, start_session: SessionFactory, retry_after: str
) -> None:
    server.enqueue(Reply.rate_limited(retry_after=retry_after), path_contains=HEARTBEAT)

    run = start_session(server)
    decision = await run.decision(1)
    await run.wait_heartbeats(2)

    assert decision.wait == pytest.approx(FIRST_BACKOFF, abs=TOLERANCE)
    [gap] = gaps(run.heartbeats())
    assert gap >= FIRST_BACKOFF - 0.05


async def test_backoff_grows_then_success_resets(
    server: FaultServer,
    start_session: SessionFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reply_delay = 0.1
    server.enqueue(
        Reply.envelope_error(503, 10001, "Unavailable", delay=reply_delay, repeat=3),
        path_contains=HEARTBEAT,
    )

    run = start_session(server)
    counter = InFlightCounter(run.session.client, monkeypatch)
    await run.wait_heartbeats(4, timeout=6.0)
    fourth = await run.decision(4)

    # Each gap is the reply time plus a backoff of 0.5 s, 1 s, then 2 s.
    expected = [reply_delay + backoff_delay(n, INTERVAL, no_jitter) for n in (1, 2, 3)]
    assert expected == pytest.approx([0.6, 1.1, 2.1])
    measured = gaps(run.heartbeats())
    assert measured == pytest.approx(expected, abs=TOLERANCE)
    failures = [snapshot.failures for snapshot in run.snapshots[:3]]
    assert failures == [1, 2, 3]
    assert fourth.state is State.ALIVE
    assert fourth.failures == 0
    assert run.session.last_error == ""
    assert counter.peak == 1


def test_backoff_delay_is_capped() -> None:
    ceilings = [backoff_delay(n, 30.0, lambda: 1.0) for n in range(1, 9)]

    assert ceilings == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert backoff_delay(20, 600.0, lambda: 1.0) == 60.0
    assert backoff_delay(20, 1.0, lambda: 1.0) == 5.0
    assert backoff_delay(3, 30.0, no_jitter) == 2.0


async def test_beat_now_never_overlaps(
    server: FaultServer,
    start_session: SessionFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server.enqueue(Reply(delay=0.4, repeat=2), path_contains=HEARTBEAT)

    run = start_session(server)
    counter = InFlightCounter(run.session.client, monkeypatch)
    await run.wait_heartbeats(1)
    for _ in range(5):
        run.session.beat_now()
        await asyncio.sleep(0.02)
    await run.wait_heartbeats(2)

    first, second = run.heartbeats()[:2]
    assert second.arrived_at - first.arrived_at >= 0.4
    assert counter.peak == 1


# Network errors and recovery of the connection pool.


async def test_closed_port_is_network_error(
    server: FaultServer, start_session: SessionFactory
) -> None:
    run = start_session(server)
    await run.decision(1)

    server.stop()
    run.session.beat_now()
    decision = await run.decision(2)

    failed = run.rows()[-1]
    assert failed.outcome == env.NETWORK_ERROR
    assert failed.http_status is None
    assert "connection failed" in failed.message
    assert decision.state is State.RETRYING
    assert decision.wait == pytest.approx(FIRST_BACKOFF, abs=TOLERANCE)


async def test_recovers_after_keepalive_close(
    server: FaultServer, start_session: SessionFactory
) -> None:
    # The server stops reading the kept-alive connection after this reply and
    # closes it 0.5 s later, so a beat sent meanwhile gets no reply.
    server.enqueue(
        Reply(keepalive_then_close=True, close_delay=0.5), path_contains=HEARTBEAT
    )

    run = start_session(server)
    await run.decision(1)
    run.session.beat_now()
    dropped = await run.decision(2)
    recovered = await run.decision(3)

    outcomes = [row.outcome for row in run.rows()]
    assert outcomes == [env.OK, env.NETWORK_ERROR, env.OK]
    assert dropped.state is State.RETRYING
    assert recovered.state is State.ALIVE
    first, retry = run.heartbeats()
    assert retry.connection_id != first.connection_id


async def test_recovers_after_server_restart(
    server: FaultServer, start_session: SessionFactory
) -> None:
    run = start_session(server)
    await run.decision(1)

    server.restart(down_for=0.5)
    run.session.beat_now()
    await wait_until(
        lambda: run.session.state is State.ALIVE and len(run.rows()) >= 3,
        timeout=5.0,
        description="the session to come back to alive",
    )

    outcomes = [row.outcome for row in run.rows()]
    assert outcomes[0] == env.OK
    assert outcomes[1] == env.NETWORK_ERROR
    assert outcomes[-1] == env.OK
    assert run.session.failures == 0
    first, *_, last = run.heartbeats()
    assert last.connection_id != first.connection_id


# Scheduling.


async def test_slow_replies_do_not_drift(
    server: FaultServer, start_session: SessionFactory
) -> None:
    beats = 6
    server.set_default(Reply(delay=0.3))

    run = start_session(server)
    await run.wait_heartbeats(beats, timeout=beats * INTERVAL + 2.0)

    requests = run.heartbeats()
    start = requests[0].arrived_at
    for number, request in enumerate(requests[:beats]):
        assert request.arrived_at - start == pytest.approx(number * INTERVAL, abs=0.1)


async def test_monotonic_jump_sends_one_beat(
    server: FaultServer, start_session: SessionFactory
) -> None:
    clock = FakeClock(time.monotonic)
    run = start_session(server, clock=clock)
    await run.decision(1)

    clock.offset += 10 * INTERVAL
    late = await run.decision(2)
    # The next scheduled beat is one interval away, so a burst would show here.
    await asyncio.sleep(INTERVAL / 2)

    assert len(run.heartbeats()) == 2
    # The gap is the time since the previous beat: one interval plus the jump.
    row = run.rows()[1]
    assert row.gap_s == pytest.approx(11 * INTERVAL, abs=0.5)
    assert late.state is State.ALIVE
    assert late.wait is not None
    assert 0 < late.wait <= INTERVAL


async def test_wall_clock_jump_sends_one_beat(
    server: FaultServer, start_session: SessionFactory
) -> None:
    wall = FakeClock(time.time)
    run = start_session(server, wall=wall)
    await run.decision(1)

    # The machine slept for 30 s: the monotonic clock stood still meanwhile.
    wall.offset += 30.0
    after_sleep = await run.decision(2)
    await asyncio.sleep(INTERVAL / 2)

    assert len(run.heartbeats()) == 2
    row = run.rows()[1]
    assert row.gap_s == pytest.approx(INTERVAL + 30.0, abs=0.5)
    assert after_sleep.state is State.ALIVE


async def test_stop_discards_reply_in_flight(
    server: FaultServer, start_session: SessionFactory
) -> None:
    server.enqueue(Reply(delay=1.0), path_contains=HEARTBEAT)
    run = start_session(server)
    await run.wait_heartbeats(1)

    started = time.monotonic()
    await run.session.stop()
    stop_took = time.monotonic() - started
    # Past the reply's delay: a late reply would have been stored by now.
    await asyncio.sleep(1.2)

    assert stop_took < 0.3
    assert run.session.state is State.STOPPED
    assert run.session.store.count(run.session.session_id) == 0
    assert run.beats == []
    assert run.session.beats_sent == 0
    assert len(run.heartbeats()) == 1


async def test_retry_after_auth_failure_recovers(
    server: FaultServer, start_session: SessionFactory
) -> None:
    server.enqueue(
        Reply.envelope_error(403, 10000, "Authentication error"),
        path_contains=HEARTBEAT,
    )
    run = start_session(server)
    failed = await run.decision(1)
    assert failed.state is State.FAILED

    run.session.retry()
    recovered = await run.decision(2)

    assert recovered.state is State.ALIVE
    assert recovered.failures == 0
    assert recovered.wait == pytest.approx(INTERVAL, abs=TOLERANCE)
    assert [row.outcome for row in run.rows()] == [env.AUTH_FAILED, env.OK]
    assert run.session.last_error == ""


async def test_retry_after_failed_prepare_beats(
    server: FaultServer, start_session: SessionFactory
) -> None:
    server.enqueue(
        Reply.envelope_error(403, 10000, "Authentication error"),
        path_contains="live-tail",
    )
    run = start_session(server)
    failed = await run.decision(0)
    assert failed.state is State.FAILED
    assert run.rows() == []

    run.session.retry()
    beat = await run.decision(1)

    assert beat.state is State.ALIVE
    assert [row.outcome for row in run.rows()] == [env.OK]
    assert len(run.server.requests) == 3


async def test_prepare_server_error_is_retried(
    server: FaultServer, start_session: SessionFactory
) -> None:
    server.enqueue(
        Reply.envelope_error(503, 10001, "Unavailable"), path_contains="live-tail"
    )
    run = start_session(server)
    retrying = await run.decision(0)
    assert retrying.state is State.RETRYING
    assert retrying.wait == pytest.approx(FIRST_BACKOFF, abs=TOLERANCE)

    first = await run.decision(1)

    assert first.state is State.ALIVE
    prepares = [r for r in server.requests if not r.path.endswith(HEARTBEAT)]
    assert len(prepares) == 2
    assert gaps(prepares)[0] == pytest.approx(FIRST_BACKOFF, abs=TOLERANCE)


async def test_pause_stops_and_resume_beats(
    server: FaultServer, start_session: SessionFactory
) -> None:
    run = start_session(server)
    await run.decision(1)

    run.session.pause()
    await wait_until(lambda: run.session.state is State.PAUSED, 1.0, "paused")
    await asyncio.sleep(1.5 * INTERVAL)
    assert len(run.heartbeats()) == 1
    assert run.session.seconds_to_next() is None

    resumed_at = time.monotonic()
    run.session.resume()
    resumed = await run.decision(2)

    assert run.heartbeats()[1].arrived_at - resumed_at < 0.2
    assert resumed.state is State.ALIVE
    assert resumed.wait == pytest.approx(INTERVAL, abs=TOLERANCE)


async def test_beat_now_restarts_schedule(
    server: FaultServer, start_session: SessionFactory
) -> None:
    run = start_session(server)
    await run.decision(1)

    requested_at = time.monotonic()
    run.session.beat_now()
    manual = await run.decision(2)
    await run.wait_heartbeats(3, timeout=2.0)

    second, third = run.heartbeats()[1:3]
    assert second.arrived_at - requested_at < 0.2
    assert manual.wait == pytest.approx(INTERVAL, abs=TOLERANCE)
    assert third.arrived_at - second.arrived_at == pytest.approx(
        INTERVAL, abs=TOLERANCE
    )


async def test_set_interval_moves_next_beat(
    server: FaultServer, start_session: SessionFactory
) -> None:
    run = start_session(server)
    await run.decision(1)

    changed_at = time.monotonic()
    run.session.set_interval(2.0)
    await run.wait_heartbeats(2, timeout=3.0)

    assert run.heartbeats()[1].arrived_at - changed_at == pytest.approx(
        2.0, abs=TOLERANCE
    )
    assert run.session.interval == 2.0


async def test_set_interval_during_request(
    server: FaultServer, start_session: SessionFactory
) -> None:
    server.enqueue(Reply(), path_contains=HEARTBEAT)
    server.enqueue(Reply(delay=0.3), path_contains=HEARTBEAT)
    run = start_session(server)
    await run.wait_heartbeats(2)

    changed_at = time.monotonic()
    run.session.set_interval(1.5)
    await run.wait_heartbeats(3, timeout=4.0)

    assert run.heartbeats()[2].arrived_at - changed_at == pytest.approx(
        1.5, abs=TOLERANCE
    )
    third = await run.decision(3)
    assert third.state is State.ALIVE
    assert run.rows()[2].gap_s is None


async def test_shorter_interval_is_not_a_gap(
    server: FaultServer, start_session: SessionFactory
) -> None:
    clock = FakeClock(time.monotonic)
    wall = FakeClock(time.time)
    run = start_session(server, interval=600.0, clock=clock, wall=wall)
    await run.decision(1)

    # 100 s pass normally, then the user shortens the interval to 1 s.
    clock.offset += 100.0
    wall.offset += 100.0
    run.session.set_interval(INTERVAL)
    await run.decision(2)

    assert [row.gap_s for row in run.rows()] == [None, None]


async def test_set_interval_rejects_out_of_range(server: FaultServer) -> None:
    client = CloudflareClient(
        server.base_url, Credential.api_token("test-token", source="test")
    )
    session = HeartbeatSession(client, ACCOUNT_ID, ACCOUNT_NAME, SCRIPT, 30.0)

    for bad in (0.5, 3601.0, float("nan")):
        with pytest.raises(ValueError, match="out of range"):
            session.set_interval(bad)
    assert session.interval == 30.0
    await session.stop()


# The API client alone.


def make_client(server: FaultServer, timeout: float = 5.0) -> CloudflareClient:
    return CloudflareClient(
        server.base_url,
        Credential.api_token("test-token", source="test"),
        timeout=timeout,
    )


async def test_heartbeat_request_shape(server: FaultServer) -> None:
    async with make_client(server) as client:
        result = await client.heartbeat(ACCOUNT_ID, SCRIPT, deadline=1.0)

    [request] = server.requests
    assert result.ok
    assert request.method == "POST"
    assert request.path == (
        f"/client/v4/accounts/{ACCOUNT_ID}/workers/observability/telemetry"
        "/live-tail/heartbeat"
    )
    assert request.json() == {"scriptId": SCRIPT}
    assert request.headers["authorization"] == "Bearer test-token"


async def test_redirect_is_not_followed(server: FaultServer) -> None:
    server.enqueue(Reply(status=307, headers={"location": server.base_url + "/user"}))

    async with make_client(server) as client:
        result = await client.heartbeat(ACCOUNT_ID, SCRIPT, deadline=1.0)

    assert result.outcome == env.REJECTED
    assert len(server.requests) == 1


async def test_oversized_reply_is_bad_response(server: FaultServer) -> None:
    server.enqueue(Reply(body=b" " * (MAX_BODY + 1)))

    async with make_client(server) as client:
        result = await client.heartbeat(ACCOUNT_ID, SCRIPT, deadline=2.0)

    assert result.outcome == env.BAD_RESPONSE
    assert f"larger than {MAX_BODY} bytes" in result.message


async def test_read_timeout_before_deadline(server: FaultServer) -> None:
    server.enqueue(Reply(delay=1.0))

    async with make_client(server, timeout=0.2) as client:
        started = time.monotonic()
        result = await client.heartbeat(ACCOUNT_ID, SCRIPT, deadline=5.0)
        took = time.monotonic() - started

    assert result.outcome == env.TIMEOUT
    assert "ReadTimeout" in result.message
    assert took < 0.2 + TOLERANCE
