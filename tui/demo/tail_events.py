"""Made-up Workers Observability events for the demo live tail.

``EventGenerator`` produces what one Worker's live tail could stream. There
are invocation events for the Worker's handlers: fetch requests with methods,
URLs, request headers (among them the client's address in
``cf-connecting-ip``), status codes and outcomes, cron triggers, queue
batches and alarms. Invocations run on one of two Worker versions.
Console logs at every level are linked to their invocation by ``requestId``.
Some invocations throw exceptions with stack-like messages, and now and then
a burst of requests arrives. Every choice comes from one ``random.Random``,
so a seed fixes the sequence of events, and only the timestamps come from
the clock.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tui.demo import data

# Relative weight of each console level.
LOG_LEVELS = (("log", 40), ("info", 25), ("debug", 15), ("warn", 12), ("error", 8))
METHODS = (("GET", 70), ("POST", 18), ("PUT", 5), ("DELETE", 4), ("OPTIONS", 3))
STATUSES = (
    (200, 70),
    (201, 5),
    (204, 4),
    (301, 2),
    (304, 5),
    (400, 3),
    (401, 2),
    (404, 5),
    (429, 2),
    (502, 1),
    (503, 1),
)
PATHS = (
    "/",
    "/health",
    "/api/users/{n}",
    "/api/orders?page={n}",
    "/images/{n}.png?w=640",
    "/login",
    "/v1/events",
    "/static/app.{n}.js",
    "/search?q=worker+{n}",
)
LOG_TEMPLATES = {
    "debug": (
        "cache lookup for key user:{n}",
        "parsed {n} headers",
        "KV get took {n} ms",
    ),
    "log": (
        "handling request {method} {path}",
        "served {n} bytes",
        "user {n} signed in",
    ),
    "info": (
        "cache hit ratio {pct}%",
        "upstream responded in {n} ms",
        "feature flag new-checkout on for {pct}% of users",
    ),
    "warn": (
        "slow upstream: {n} ms",
        "deprecated query parameter 'limit' used",
        "retrying subrequest, attempt {attempt}",
    ),
    "error": (
        "upstream returned 503 after {n} ms",
        "could not parse JSON body: Unexpected token < in JSON at position {n}",
        "KV write failed: too many requests",
    ),
}
EXCEPTIONS = (
    "TypeError: Cannot read properties of undefined (reading 'id')",
    "RangeError: Maximum call stack size exceeded",
    "Error: D1_ERROR: no such table: sessions",
    "SyntaxError: Unexpected end of JSON input",
)
# Client addresses from the documentation ranges (RFC 5737 and RFC 3849).
CLIENT_IPS = (
    "203.0.113.7",
    "203.0.113.42",
    "198.51.100.23",
    "192.0.2.150",
    "2001:db8::1f",
    "2001:db8:85a3::8a2e:370:7334",
)
USER_AGENTS = (
    ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", 40),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Mobile/15E148", 25),
    ("curl/8.5.0", 20),
    ("Go-http-client/2.0", 15),
)
# Share of fetch requests sent by a browser script, with X-Requested-With.
XHR_RATE = 0.3
# Worker versions and their share of invocations, as in a gradual deployment.
VERSIONS = (
    ("8c2c5a3e-5d1b-4a2e-9c61-0d7f3e1b2a40", 80),
    ("3f1e9b27-6a0c-4d5e-8b7f-2c9d1e0a6b53", 20),
)
CRONS = ("*/5 * * * *", "0 * * * *", "30 2 * * *")
QUEUES = ("jobs", "emails", "webhooks")
# Share of invocations that throw, and that run out of CPU time.
EXCEPTION_RATE = 0.04
EXCEEDED_CPU_RATE = 0.005
CANCELED_RATE = 0.01
# Share of invocations that are a cron trigger in a Worker without one.
STRAY_CRON_RATE = 0.02
# Chance that a group starts a burst, and how many requests a burst has.
BURST_RATE = 0.03
BURST_SIZE = (5, 25)


@dataclass
class Emission:
    """Events to send together, and the seconds to wait before the next group."""

    events: list[dict[str, Any]]
    delay: float


class EventGenerator:
    """Endless events for one demo Worker at about ``rate`` events per second."""

    def __init__(
        self,
        script: str,
        *,
        rate: float,
        rng: random.Random,
        wall: Callable[[], float] = time.time,
    ):
        if rate <= 0:
            raise ValueError(f"event rate {rate} must be positive")
        self.script = script
        self.handlers = data.WORKER_HANDLERS.get(script, ("fetch",))
        self.rate = rate
        self._rng = rng
        self._wall = wall
        self._burst_left = 0
        self.count = 0
        self.host = f"{script}.demo.example"

    def next(self) -> Emission:
        """Return the next group of events: one invocation and its logs."""
        rng = self._rng
        if self._burst_left == 0 and rng.random() < BURST_RATE:
            self._burst_left = rng.randint(*BURST_SIZE)
        events = self._invocation()
        self.count += len(events)
        mean_gap = len(events) / self.rate
        if self._burst_left > 0:
            self._burst_left -= 1
            mean_gap /= 10
        return Emission(events, rng.expovariate(1.0) * mean_gap)

    def _invocation(self) -> list[dict[str, Any]]:
        rng = self._rng
        handler = self._pick_handler()
        request_id = f"{rng.getrandbits(64):016x}"
        if handler == "fetch":
            event, context = self._fetch(request_id)
        else:
            event, context = self._other(handler, request_id)
        # The invocation event comes last, stamped now; its console logs
        # were written during the run, a few milliseconds earlier each.
        now_ms = int(self._wall() * 1000)
        count = rng.choice((0, 1, 1, 2, 3))
        offsets = sorted((rng.randint(1, 40) for _ in range(count)), reverse=True)
        logs = [self._log(request_id, now_ms - offset, context) for offset in offsets]
        event["timestamp"] = now_ms
        return [*logs, event]

    def _pick_handler(self) -> str:
        rng = self._rng
        if "scheduled" not in self.handlers and rng.random() < STRAY_CRON_RATE:
            return "scheduled"
        return rng.choice(self.handlers)

    def _outcome(self) -> tuple[str, str | None]:
        draw = self._rng.random()
        if draw < EXCEPTION_RATE:
            return "exception", self._stack()
        if draw < EXCEPTION_RATE + EXCEEDED_CPU_RATE:
            return "exceededCpu", "Error: Worker exceeded CPU time limit."
        if draw < EXCEPTION_RATE + EXCEEDED_CPU_RATE + CANCELED_RATE:
            return "canceled", None
        return "ok", None

    def _stack(self) -> str:
        rng = self._rng
        line = rng.randint(10, 400)
        return (
            f"{rng.choice(EXCEPTIONS)}\n"
            f"    at handleRequest (index.js:{line}:{rng.randint(3, 40)})\n"
            f"    at Object.fetch (index.js:{line + 57}:12)"
        )

    def _fetch(self, request_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        rng = self._rng
        method = _weighted(rng, METHODS)
        path = rng.choice(PATHS).format(n=rng.randint(1, 999))
        url = f"https://{self.host}{path}"
        outcome, error = self._outcome()
        status = 500 if outcome == "exception" else _weighted(rng, STATUSES)
        request = {
            "method": method,
            "url": url,
            "path": path.split("?")[0],
            "headers": self._headers(method),
        }
        workers: dict[str, Any] = {
            "eventType": "fetch",
            "event": {"request": request},
        }
        if outcome not in ("exceededCpu", "canceled"):
            workers["event"]["response"] = {"status": status}
        event = self._base_event(request_id, workers, outcome, error)
        event["$metadata"].update(trigger=f"{method} {path}", url=url)
        return event, {"method": method, "path": path}

    def _headers(self, method: str) -> dict[str, str]:
        """Return request headers by lower-case name, as a Worker receives them."""
        rng = self._rng
        headers = {
            "host": self.host,
            "user-agent": _weighted(rng, USER_AGENTS),
            "accept": "*/*",
            "cf-connecting-ip": rng.choice(CLIENT_IPS),
        }
        if method in ("POST", "PUT"):
            headers["content-type"] = "application/json"
        if rng.random() < XHR_RATE:
            headers["x-requested-with"] = "XMLHttpRequest"
        return headers

    def _other(
        self, handler: str, request_id: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        rng = self._rng
        outcome, error = self._outcome()
        event_data: dict[str, Any] = {}
        trigger = handler
        if handler == "scheduled":
            cron = rng.choice(CRONS)
            event_data = {"cron": cron, "scheduledTime": int(self._wall() * 1000)}
            trigger = cron
        elif handler == "queue":
            queue = rng.choice(QUEUES)
            event_data = {"queue": queue, "batchSize": rng.randint(1, 100)}
            trigger = f"queue {queue}"
        elif handler == "email":
            event_data = {"mailFrom": "alerts@example.com", "rcptTo": "ingest@demo"}
            trigger = "email from alerts@example.com"
        workers = {"eventType": handler, "event": event_data}
        event = self._base_event(request_id, workers, outcome, error)
        event["$metadata"]["trigger"] = trigger
        return event, {"method": handler, "path": trigger}

    def _base_event(
        self,
        request_id: str,
        workers: dict[str, Any],
        outcome: str,
        error: str | None,
    ) -> dict[str, Any]:
        rng = self._rng
        metadata: dict[str, Any] = {
            "id": self._event_id(),
            "requestId": request_id,
            "service": self.script,
            "type": "cf-worker-event",
            "level": "error" if error else "info",
            "origin": workers["eventType"],
        }
        if error:
            metadata["error"] = error
        workers.update(
            outcome=outcome,
            requestId=request_id,
            wallTimeMs=rng.randint(1, 900),
            cpuTimeMs=rng.randint(1, 50) if outcome != "exceededCpu" else 50,
            scriptVersion={"id": _weighted(rng, VERSIONS)},
        )
        return {"$metadata": metadata, "$workers": workers}

    def _log(
        self, request_id: str, timestamp_ms: int, context: dict[str, Any]
    ) -> dict[str, Any]:
        rng = self._rng
        level = _weighted(rng, LOG_LEVELS)
        template = rng.choice(LOG_TEMPLATES[level])
        message = template.format(
            n=rng.randint(1, 999),
            pct=rng.randint(0, 100),
            attempt=rng.randint(2, 5),
            **context,
        )
        return {
            "timestamp": timestamp_ms,
            "source": {"message": message},
            "$metadata": {
                "id": self._event_id(),
                "requestId": request_id,
                "service": self.script,
                "type": "cf-worker",
                "level": level,
                "message": message,
            },
        }

    def _event_id(self) -> str:
        return f"{self._rng.getrandbits(128):032x}"


def _weighted(rng: random.Random, choices: tuple[tuple[Any, int], ...]) -> Any:
    values = [value for value, _ in choices]
    weights = [weight for _, weight in choices]
    return rng.choices(values, weights)[0]
