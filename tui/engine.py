"""The heartbeat engine: one asyncio task per session, free of any UI.

Scheduling runs on the monotonic clock and history shows wall-clock time.
Beat N of a run is due at ``anchor + N * interval`` however long each request
took, so there is no cumulative drift. A slot that has already passed is
skipped, never sent late in a burst. Failures that may pass (timeouts, 5xx,
429, bad replies, network errors) are retried with capped exponential backoff
and jitter, one request at a time. Fatal outcomes stop the session until the
user requests a retry.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import math
import random
import re
import time
from collections.abc import Callable
from typing import Any

from tui import envelope as env
from tui.api import CloudflareClient
from tui.envelope import CallResult
from tui.history import Beat, HistoryStore
from tui.logsetup import scrub
from tui.text import duration

log = logging.getLogger(__name__)

MIN_INTERVAL = 1.0
MAX_INTERVAL = 3600.0
DEFAULT_INTERVAL = 30.0
BACKOFF_BASE = 1.0
BACKOFF_CAP = 60.0
# Sleep in slices of at most this long, so that a jump of the wall clock
# (the machine slept: Linux's monotonic clock stops during suspend) is noticed
# within this many seconds of waking.
WAKE_SLICE = 5.0
# A wall-clock jump this much larger than the monotonic time that passed means
# the machine slept.
SLEEP_JUMP = 2.0


class State(enum.StrEnum):
    STARTING = "starting"
    ALIVE = "alive"
    RETRYING = "retrying"
    PAUSED = "paused"
    FAILED = "failed"
    STOPPED = "stopped"


def check_interval(seconds: float) -> float:
    """Return the interval if it is within 1 s to 3600 s, else raise ValueError."""
    if not math.isfinite(seconds) or not MIN_INTERVAL <= seconds <= MAX_INTERVAL:
        raise ValueError(
            f"interval {seconds:g} s is out of range: use {MIN_INTERVAL:g} to "
            f"{MAX_INTERVAL:g} seconds"
        )
    return float(seconds)


_SECONDS = re.compile(r"[0-9]+(\.[0-9]+)?")


def parse_interval(text: str) -> float:
    """Parse seconds typed by a user (digits, one optional decimal point).

    Raises ValueError with a message that names the problem.
    """
    text = text.strip()
    if not _SECONDS.fullmatch(text):
        raise ValueError(
            f"invalid interval {text!r}: give a number of seconds from "
            f"{MIN_INTERVAL:g} to {MAX_INTERVAL:g}, for example 30"
        )
    return check_interval(float(text))


def deadline_for(interval: float) -> float:
    """Return the overall deadline of one request: shorter than the interval."""
    return max(0.5, min(10.0, interval * 0.8))


def backoff_delay(
    failures: int, interval: float, rng: Callable[[], float] = random.random
) -> float:
    """Return the wait before retry number ``failures`` (1 for the first).

    The delay doubles from BACKOFF_BASE up to a cap of the interval (at least
    5 s, at most BACKOFF_CAP), with "equal jitter": half fixed, half random,
    so retries from many clients spread out but never collapse to zero.
    """
    cap = min(BACKOFF_CAP, max(5.0, interval))
    ceiling = min(cap, BACKOFF_BASE * 2 ** max(0, failures - 1))
    return ceiling / 2 + rng() * ceiling / 2


class HeartbeatSession:
    """Keeps one live tail alive: prepares it, then beats until stopped."""

    def __init__(
        self,
        client: CloudflareClient,
        account_id: str,
        account_name: str,
        script: str,
        interval: float = DEFAULT_INTERVAL,
        *,
        store: HistoryStore | None = None,
        on_beat: Callable[[Beat], None] | None = None,
        on_status: Callable[[HeartbeatSession], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
        session_id: int | None = None,
        filters: list[dict[str, Any]] | None = None,
        filter_combination: str = "and",
    ):
        self.client = client
        self.account_id = account_id
        self.account_name = account_name
        self.script = script
        self.interval = check_interval(interval)
        self.store = store or HistoryStore(None)
        # Reopening a stored session continues its history; the first beat
        # then shows the gap since the app last beat for it.
        self._closed_since: float | None = None
        self._reopened = False
        self._seq_base = 0
        if session_id is not None and self.store.reopen_session(session_id):
            self._reopened = True
            self.session_id = session_id
            self._seq_base = self.store.count(session_id)
            self._closed_since = self.store.last_beat_time(session_id)
        else:
            self.session_id = self.store.start_session(account_id, account_name, script)
        self._on_beat = on_beat
        self._on_status = on_status
        self._clock = clock
        self._wall = wall
        self._rng = rng

        self.state = State.STARTING
        self.last_ok_wall: float | None = None
        self.last_latency_ms: float | None = None
        self.failures = 0
        self.last_error = ""
        self.next_due: float | None = None
        self.beats_sent = 0
        self.ws_url: str | None = None
        # The live-tail filter list and how its entries combine ("and", "or"),
        # sent with every prepare call.
        self.filters: list[dict[str, Any]] = list(filters or [])
        self.filter_combination = filter_combination
        self.last_result: CallResult | None = None

        self._prepared = False
        self._paused = False
        self._now_requested = False
        self._stopping = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._anchor = 0.0
        self._slot = 0
        self._sent_mono = 0.0
        self._beat_gap: float | None = None
        self._in_flight = False
        # When the previous beat was sent (monotonic, wall), and the delay the
        # schedule chose after it; together they reveal missed beats.
        self._prev_sent: tuple[float, float] | None = None
        self._expected_gap = self.interval

    # -- control, from the UI or the headless runner -------------------------

    def start(self) -> asyncio.Task[None]:
        self._task = asyncio.create_task(
            self._run(), name=f"heartbeat {self.account_id}/{self.script}"
        )
        return self._task

    @property
    def task(self) -> asyncio.Task[None] | None:
        return self._task

    def beat_now(self) -> None:
        """Send one beat at once; a paused session stays paused after it."""
        if self._stopping:
            return
        self._now_requested = True
        self._wake.set()

    def retry(self) -> None:
        """Try again after a failure, preparing the live tail afresh first.

        A fatal outcome such as not_found may mean the tail expired, so a
        heartbeat alone could never recover it.
        """
        if self.state is State.FAILED:
            self._prepared = False
        self._paused = False
        self.beat_now()

    def pause(self) -> None:
        if self._stopping or self._paused:
            return
        self._paused = True
        self._wake.set()

    def resume(self) -> None:
        if self._stopping or not self._paused:
            return
        self._paused = False
        # A pause is the user's choice, not a gap in the history.
        self._prev_sent = None
        self._now_requested = True
        self._wake.set()

    def toggle_pause(self) -> None:
        if self._paused:
            self.resume()
        else:
            self.pause()

    @property
    def paused(self) -> bool:
        return self._paused

    def set_interval(self, seconds: float) -> None:
        """Change the interval; the next beat is due one new interval from now."""
        self.interval = check_interval(seconds)
        self._reanchor(self._clock())
        if self._in_flight:
            # The reply to the beat in flight advances one slot, and that slot
            # must be the first of the new interval.
            self._slot = 0
        self._expected_gap = self._planned_gap()
        self._wake.set()

    async def stop(self) -> None:
        """Stop beating, cancel a request in flight, and record the end."""
        if self._stopping:
            await self._wait_for_task()
            return
        self._stopping = True
        self._wake.set()
        if self._task is not None and not self._task.done():
            self._task.cancel()
        await self._wait_for_task()
        self._set_state(State.STOPPED)
        self.store.end_session(self.session_id)
        await self.client.aclose()
        log.info("session stopped: %s/%s", self.account_id, self.script)

    async def _wait_for_task(self) -> None:
        """Wait for the loop to end; a cancel of the caller itself still counts."""
        if self._task is None:
            return
        try:
            await self._task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise

    def seconds_to_next(self) -> float | None:
        if self.next_due is None or self.state in (State.PAUSED, State.FAILED):
            return None
        return max(0.0, self.next_due - self._clock())

    # -- the loop ------------------------------------------------------------

    async def _run(self) -> None:
        log.info(
            "session started: account %s, script %s, interval %g s",
            self.account_id,
            self.script,
            self.interval,
        )
        try:
            await self._loop()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - keep the app alive, say why
            log.exception("heartbeat loop failed")
            self.last_error = f"internal error: {type(exc).__name__}: {exc}"
            self._set_state(State.FAILED)

    async def _loop(self) -> None:
        self.next_due = self._clock()
        while not self._stopping:
            manual = await self._wait_until_due()
            if self._stopping:
                return
            if not self._prepared:
                result = await self._prepare()
                if result.ok:
                    # The first beat goes out as soon as the tail is prepared,
                    # also when this prepare was the retry of a failed session.
                    self.next_due = self._clock()
                    if self.state is State.FAILED:
                        self._set_state(State.STARTING)
                    continue
            else:
                result = await self._beat()
            if self._stopping:
                return
            if result.outcome in (env.TIMEOUT, env.NETWORK_ERROR):
                # Pooled connections may be dead after this; start afresh.
                await self.client.reset_pool()
            self._schedule_after(result, manual)

    async def _wait_until_due(self) -> bool:
        """Sleep until the next beat is due; return whether the user asked for it."""
        while True:
            if self._stopping:
                return False
            if self._now_requested:
                self._now_requested = False
                return True
            if self._paused or self.state is State.FAILED:
                self._set_state(State.PAUSED if self._paused else State.FAILED)
                self._wake.clear()
                await self._wake.wait()
                continue
            assert self.next_due is not None
            now = self._clock()
            wall_before = self._wall()
            remaining = self.next_due - now
            if remaining <= 0:
                return False
            self._wake.clear()
            # A timer that sets the wake event costs less CPU than a timeout
            # that cancels the wait. The loop then checks why it woke.
            timer = asyncio.get_running_loop().call_later(
                min(remaining, WAKE_SLICE), self._wake.set
            )
            try:
                await self._wake.wait()
            finally:
                timer.cancel()
            slept_mono = self._clock() - now
            slept_wall = self._wall() - wall_before
            if slept_wall - slept_mono > SLEEP_JUMP:
                # The machine slept while the monotonic clock stood still:
                # one beat now rather than the rest of the old wait.
                return False

    def _gap_before(self, sent_mono: float, sent_wall: float) -> float | None:
        """Return the seconds since the previous beat if at least one was missed.

        A beat is missed when the time since the previous one exceeds what the
        schedule meant by more than an interval: the process was suspended,
        the machine slept, or a reply took that long.
        """
        if self._prev_sent is None:
            if self._closed_since is None:
                return None
            closed_for = sent_wall - self._closed_since
            self._closed_since = None
            return round(closed_for, 1) if closed_for > self.interval else None
        prev_mono, prev_wall = self._prev_sent
        actual = max(sent_mono - prev_mono, sent_wall - prev_wall)
        if actual - self._expected_gap > self.interval:
            return round(actual, 1)
        return None

    async def refresh_ws_url(self) -> str | None:
        """Prepare the live tail again and return its new WebSocket URL.

        The event stream calls this when the server rejects the old URL, and
        the UI after changing ``filters``. A failure is logged and returns
        None; the heartbeat schedule and state are left as they are.
        """
        if self._stopping:
            return None
        result = await self._prepare_call()
        if self._stopping:
            return None
        ws_url = result.extra.get("ws_url") if result.ok else None
        if not isinstance(ws_url, str):
            log.warning(
                "preparing the live tail again failed for %s/%s: %s",
                self.account_id,
                self.script,
                scrub(result.message) if not result.ok else "the reply had no wsUrl",
            )
            return None
        self.ws_url = ws_url
        log.info("live tail prepared again for %s/%s", self.account_id, self.script)
        return ws_url

    def set_filters(
        self, filters: list[dict[str, Any]], combination: str = "and"
    ) -> None:
        """Store the filters for the next prepare call; call refresh_ws_url next."""
        self.filters = list(filters)
        self.filter_combination = combination

    async def _prepare_call(self) -> CallResult:
        return await self.client.prepare_live_tail(
            self.account_id,
            self.script,
            deadline=deadline_for(self.interval),
            filters=self.filters,
            filter_combination=self.filter_combination,
        )

    async def _prepare(self) -> CallResult:
        result = await self._prepare_call()
        if self._stopping:
            return result
        if result.ok:
            self._prepared = True
            self.ws_url = result.extra.get("ws_url")
            log.info("live tail prepared for %s/%s", self.account_id, self.script)
        else:
            self._record_failure(result, "preparing the live tail")
        return result

    async def _beat(self) -> CallResult:
        sent_at = self._wall()
        self._sent_mono = self._clock()
        gap = self._gap_before(self._sent_mono, sent_at)
        self._beat_gap = gap
        self._prev_sent = (self._sent_mono, sent_at)
        self._in_flight = True
        try:
            result = await self.client.heartbeat(
                self.account_id, self.script, deadline=deadline_for(self.interval)
            )
        finally:
            self._in_flight = False
        if self._stopping:
            # The reply belongs to a session the user has already closed.
            return result
        self.beats_sent += 1
        beat = Beat(
            session_id=self.session_id,
            time=sent_at,
            ok=result.ok,
            http_status=result.http_status,
            latency_ms=result.latency_ms,
            outcome=result.outcome,
            message=self._gap_note(gap) + self._beat_message(result),
            ray=result.ray,
            gap_s=gap,
            seq=self._seq_base + self.beats_sent,
        )
        try:
            self.store.add_beat(beat)
        except Exception:  # noqa: BLE001 - a full disk must not stop the beat
            log.exception("could not store a beat in the history database")
        if result.ok:
            self.last_ok_wall = sent_at
            self.last_latency_ms = result.latency_ms
            self.failures = 0
            self.last_error = ""
        else:
            self.last_latency_ms = result.latency_ms
            self._record_failure(result, "heartbeat")
        if self._on_beat is not None:
            self._on_beat(beat)
        return result

    def _gap_note(self, gap: float | None) -> str:
        if gap is None:
            return ""
        reason = (
            "app closed"
            if self.beats_sent == 1 and self._reopened
            else ("beats missed: process suspended, machine asleep or reply slow")
        )
        return f"gap of {duration(gap)} ({reason}) · "

    def _beat_message(self, result: CallResult) -> str:
        if not result.ok:
            return self._explain(result)
        # success decides, but the API's other remarks are still worth showing.
        notes = []
        if result.envelope is not None:
            notes = [str(e) for e in result.envelope.errors if str(e)]
        if notes:
            return env.one_line(
                "heartbeat accepted; the reply also listed: " + "; ".join(notes)
            )
        return "heartbeat accepted"

    def _explain(self, result: CallResult) -> str:
        """Return the one line shown for a failure, with no secret in it."""
        message = scrub(result.message)
        if result.outcome == env.AUTH_FAILED:
            return f"{message}: {env.AUTH_HINT}"
        if result.outcome == env.NOT_FOUND:
            account = self.account_id
            if self.account_name != self.account_id:
                account = f"{self.account_name} ({self.account_id})"
            return f"{message}: Worker {self.script!r} or account {account} not found"
        return message

    def _record_failure(self, result: CallResult, what: str) -> None:
        self.failures += 1
        self.last_error = self._explain(result)
        self.last_result = result
        level = logging.ERROR if result.fatal else logging.WARNING
        log.log(
            level,
            "%s failed for %s/%s (%s, %d in a row): %s",
            what,
            self.account_id,
            self.script,
            result.outcome,
            self.failures,
            self.last_error,
        )

    def _schedule_after(self, result: CallResult, manual: bool) -> None:
        now = self._clock()
        self.last_result = result
        if result.ok:
            if manual or self.state is not State.ALIVE or self._beat_gap:
                # A beat the user asked for, the first after a failure, or the
                # first after a gap restarts the schedule one interval after
                # it was sent, so no second beat follows close behind it.
                self._reanchor(self._sent_mono)
                self._expected_gap = self._planned_gap()
            elif self._next_slot(now):
                # The reply came after a suspension or sleep: beat once now,
                # and let that beat show the gap.
                self.next_due = now
                self._expected_gap = self.interval
            else:
                self._expected_gap = self._planned_gap()
            self._set_state(State.ALIVE)
            return
        if result.fatal:
            self.next_due = None
            self._set_state(State.FAILED)
            return
        delay = backoff_delay(self.failures, self.interval, self._rng)
        if result.outcome == env.RATE_LIMITED and result.retry_after is not None:
            # Retry-After is the minimum wait the server requests. A value of 0
            # or a past date must not turn the retries into a tight loop.
            delay = max(delay, result.retry_after)
        self.next_due = now + delay
        self._expected_gap = (now - self._sent_mono) + delay
        self._set_state(State.RETRYING)

    def _planned_gap(self) -> float:
        """Return the time from the previous beat to the next due one."""
        if self._prev_sent is None or self.next_due is None:
            return self.interval
        return self.next_due - self._prev_sent[0]

    def _reanchor(self, now: float) -> None:
        self._anchor = now
        self._slot = 1
        self.next_due = now + self.interval

    def _next_slot(self, now: float) -> bool:
        """Move to the next slot of the schedule; return whether any were skipped."""
        self._slot += 1
        due = self._anchor + self._slot * self.interval
        skipped = due <= now
        if skipped:
            # Slots already passed are skipped, never sent late in a burst.
            self._slot = math.floor((now - self._anchor) / self.interval) + 1
            due = self._anchor + self._slot * self.interval
        self.next_due = due
        return skipped

    def _set_state(self, state: State) -> None:
        changed = state is not self.state
        if changed:
            log.info(
                "session %s/%s: %s -> %s",
                self.account_id,
                self.script,
                self.state,
                state,
            )
        self.state = state
        if self._on_status is not None:
            self._on_status(self)
