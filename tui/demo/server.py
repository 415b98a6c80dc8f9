"""Demo of the Cloudflare API endpoints that cf-livetail calls, served on loopback.

``DemoServer`` serves the API under ``/client/v4`` with the Cloudflare envelope
``{"success", "errors", "messages", "result"}``, checks credentials, pages lists
and enforces a per-credential rate limit, so that the app can run without
network access. The data comes from ``tui.demo.data``. The module uses only the
standard library. ``DemoServer`` also starts the live tail's WebSocket server
(``tui.demo.ws``, which needs the websockets package) on a port of its own,
unless ``live_tail=False``, and each prepared live tail's ``wsUrl`` points
there.

Status codes and error codes follow replies observed from the live API where
they are known. Requests that break HTTP itself (a bad request line, a bad
Content-Length, an oversized body) get the same JSON envelope with codes that the
demo chose, because the live API's replies to them are not documented.
"""

from __future__ import annotations

import collections
import http.server
import ipaddress
import json
import logging
import math
import random
import re
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from tui.demo import data
from tui.demo.data import DEMO_EMAIL, DEMO_GLOBAL_KEY, DEMO_TOKEN

if TYPE_CHECKING:
    from tui.demo.ws import LiveTailServer

__all__ = [
    "API_PREFIX",
    "DEMO_EMAIL",
    "DEMO_GLOBAL_KEY",
    "DEMO_TOKEN",
    "DemoServer",
    "RecordedRequest",
    "RequestLog",
]

logger = logging.getLogger("tui.demo")

API_PREFIX = "/client/v4"
MAX_BODY_BYTES = 64 * 1024
REQUEST_LOG_SIZE = 1000
# Seconds an idle keep-alive connection stays open before its thread exits.
IDLE_TIMEOUT_SECONDS = 60.0
# Seconds between checks of the shutdown flag in the accept loop. It bounds how
# long stop() waits for the loop to exit.
POLL_INTERVAL_SECONDS = 0.05

DEFAULT_PER_PAGE = 20
MIN_PER_PAGE = 5
MAX_PER_PAGE = 50

# Sent as a "message" on a successful live-tail or heartbeat call, as the
# Workers Observability API does.
SUCCESS_MESSAGE = "Successful request"

# RFC 7235 token68, the syntax the live API requires after "Bearer ".
TOKEN68_PATTERN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# The live API's exact format rule for X-Auth-Key is not documented. Real Global
# API Keys are 37 hex characters, and shorter keys get error 6103.
GLOBAL_KEY_PATTERN = re.compile(r"[0-9a-fA-F]{37}")
ACCOUNT_ID_PATTERN = re.compile(r"[0-9a-f]{32}")

FILTER_COMBINATIONS = ("and", "or", "AND", "OR")
FILTER_TYPES = ("string", "number", "boolean")
FILTER_OPERATIONS = frozenset(
    (
        "includes not_includes starts_with ends_with regex exists is_null in not_in "
        "eq neq gt gte lt lte = != > >= < <= INCLUDES DOES_NOT_INCLUDE MATCH_REGEX "
        "EXISTS DOES_NOT_EXIST IN NOT_IN STARTS_WITH ENDS_WITH"
    ).split()
)
MAX_FILTER_DEPTH = 4

# Code for errors that http.server raises itself (a bad request line, oversized
# headers). The live API has no documented code for them.
TRANSPORT_ERROR_CODE = 6000


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the demo server received it, before any check ran."""

    method: str
    path: str
    query: dict[str, list[str]]
    # Header names in lower case. A repeated header keeps its last value.
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """Decode the body as JSON. Raises ValueError if it is not JSON."""
        return json.loads(self.body)


class RequestLog:
    """Thread-safe record of the latest requests, oldest first, with a maximum size.

    Indexing and iteration work on a copy taken under the lock, so a request that
    arrives meanwhile never breaks a loop over the log.
    """

    def __init__(self, max_size: int) -> None:
        self._lock = threading.Lock()
        self._items: collections.deque[RecordedRequest] = collections.deque(
            maxlen=max_size
        )

    def append(self, request: RecordedRequest) -> None:
        with self._lock:
            self._items.append(request)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def snapshot(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._items)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __iter__(self) -> Iterator[RecordedRequest]:
        return iter(self.snapshot())

    def __getitem__(self, index: int) -> RecordedRequest:
        return self.snapshot()[index]


@dataclass
class Reply:
    """HTTP status, JSON body and extra headers of one reply."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    # True closes the connection after the reply, for requests whose body was
    # not read and so cannot be skipped.
    close: bool = False


class ApiError(Exception):
    """Error reply with one Cloudflare error object and an optional error chain."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        chain: list[tuple[int, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.chain = chain or []
        self.headers = headers or {}

    def to_reply(self) -> Reply:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.chain:
            error["error_chain"] = [
                {"code": code, "message": message} for code, message in self.chain
            ]
        return Reply(self.status, error_envelope([error]), dict(self.headers))


class ServerStopping(Exception):
    """Raised in a handler thread that was waiting when stop() was called."""


def success_envelope(
    result: Any,
    *,
    messages: list[dict[str, Any]] | None = None,
    result_info: dict[str, int] | None = None,
) -> dict[str, Any]:
    envelope: dict[str, Any] = {
        "success": True,
        "errors": [],
        "messages": messages or [],
        "result": result,
    }
    if result_info is not None:
        envelope["result_info"] = result_info
    return envelope


def error_envelope(errors: list[dict[str, Any]]) -> dict[str, Any]:
    return {"success": False, "errors": errors, "messages": [], "result": None}


def invalid_parameter(detail: str) -> ApiError:
    """Build the 400 reply for an invalid query parameter or body field.

    The shape, code 6008 with the detail under code 11000 in its error chain,
    copies a live reply to an invalid per_page on another list endpoint.
    """
    return ApiError(400, 6008, "Invalid request parameters", chain=[(11000, detail)])


def no_route() -> ApiError:
    # The live API replies 400, not 404, to a path that it has no route for.
    return ApiError(400, 7000, "No route for that URI")


def unknown_object(path: str) -> ApiError:
    message = f"Could not route to {path}, perhaps your object identifier is invalid?"
    return ApiError(404, 7003, message)


# ---------------------------------------------------------------------------
# Authentication and rate limit
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Credential:
    """Accepted credential. ``scheme`` is "token" or "global_key"."""

    scheme: str
    rate_limit_key: str


def authenticate(headers: Mapping[str, str]) -> Credential:
    """Check the auth headers (names in lower case) and return the credential.

    Raises ApiError with the live API's codes: 9106 for missing headers, 6003
    with an error chain for malformed ones, 10000 for unknown credentials.
    An Authorization header takes precedence over X-Auth-Email and X-Auth-Key.
    """
    authorization = headers.get("authorization")
    if authorization is not None:
        return _authenticate_token(authorization)

    email = headers.get("x-auth-email")
    key = headers.get("x-auth-key")
    if email is None and key is None:
        message = "Missing X-Auth-Key, X-Auth-Email or Authorization headers"
        raise ApiError(403, 9106, message)
    if email is None:
        raise ApiError(403, 9106, "Missing X-Auth-Email header")
    if key is None:
        raise ApiError(403, 9106, "Missing X-Auth-Key header")

    chain = []
    if not EMAIL_PATTERN.fullmatch(email):
        chain.append((6102, "Invalid format for X-Auth-Email header"))
    if not GLOBAL_KEY_PATTERN.fullmatch(key):
        chain.append((6103, "Invalid format for X-Auth-Key header"))
    if chain:
        raise ApiError(400, 6003, "Invalid request headers", chain=chain)
    if email.lower() != DEMO_EMAIL or key != DEMO_GLOBAL_KEY:
        raise ApiError(403, 10000, "Authentication error")
    return Credential("global_key", f"global_key:{email.lower()}")


def _authenticate_token(authorization: str) -> Credential:
    scheme, separator, token = authorization.partition(" ")
    well_formed = (
        scheme.lower() == "bearer"
        and separator == " "
        and TOKEN68_PATTERN.fullmatch(token) is not None
    )
    if not well_formed:
        chain = [(6111, "Invalid format for Authorization header")]
        raise ApiError(400, 6003, "Invalid request headers", chain=chain)
    if token != DEMO_TOKEN:
        raise ApiError(401, 10000, "Authentication error")
    return Credential("token", f"token:{token}")


@dataclass(frozen=True)
class RateLimitStatus:
    allowed: bool
    remaining: int
    # Seconds until the oldest counted request leaves the window.
    reset_seconds: float


class RateLimiter:
    """Sliding-window limit of requests per key, safe to call from many threads.

    NOTE: Cloudflare's rate-limit documentation says that once a user passes the
    limit, all calls are blocked for the next five minutes. This window frees one
    slot as each counted request ages out, so a client recovers sooner here.
    """

    def __init__(
        self,
        max_requests: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_requests = max_requests
        self.window_seconds = window_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._request_times: dict[str, collections.deque[float]] = {}

    def acquire(self, key: str) -> RateLimitStatus:
        """Count one request for ``key`` unless the key is over its limit."""
        with self._lock:
            now = self._clock()
            times = self._request_times.setdefault(key, collections.deque())
            while times and times[0] <= now - self.window_seconds:
                times.popleft()
            allowed = len(times) < self.max_requests
            if allowed:
                times.append(now)
            # Computed as window minus age, because oldest + window - now can round
            # to just above the window, which ceil() turns into one extra second.
            reset = self.window_seconds - (now - times[0]) if times else 0.0
            return RateLimitStatus(allowed, self.max_requests - len(times), reset)

    def headers(self, status: RateLimitStatus) -> dict[str, str]:
        """Return the rate-limit headers that the live API sends on every reply."""
        reset = math.ceil(status.reset_seconds)
        window = math.ceil(self.window_seconds)
        headers = {
            "Ratelimit": f'"default";r={status.remaining};t={reset}',
            "Ratelimit-Policy": f'"default";q={self.max_requests};w={window}',
        }
        if not status.allowed:
            headers["Retry-After"] = str(max(1, reset))
        return headers


# ---------------------------------------------------------------------------
# API logic, free of sockets
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiRequest:
    method: str
    # Path below API_PREFIX, for example "/accounts".
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


Handler = Callable[["DemoApi", ApiRequest, dict[str, str]], Reply]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    token_only: bool = False


class DemoApi:
    """Request handling of the demo API: routing, auth, rate limit and endpoints."""

    def __init__(
        self,
        *,
        origin: str,
        latency: tuple[float, float],
        rng: random.Random,
        rate_limiter: RateLimiter,
        stop_event: threading.Event,
        live_tail: LiveTailServer | None = None,
    ) -> None:
        # Scheme, host and port of the server, for the WebSocket URL.
        self.origin = origin
        self.latency = latency
        self.rate_limiter = rate_limiter
        self._rng = rng
        self._rng_lock = threading.Lock()
        self._stop_event = stop_event
        self._live_tail = live_tail
        # Heartbeats seen per (account id, Worker) of the flaky demo Workers.
        self._flaky_counts: dict[tuple[str, str], int] = {}

    def new_ray_id(self) -> str:
        """Return a cf-ray value in Cloudflare's form, 16 hex digits and a site."""
        return self._random_hex(16) + "-DEMO"

    def _random_hex(self, digits: int) -> str:
        with self._rng_lock:
            return f"{self._rng.getrandbits(digits * 4):0{digits}x}"

    def handle(self, request: ApiRequest) -> Reply:
        """Route, authenticate and rate-limit one request, then run its endpoint.

        Raises ServerStopping when stop() interrupts a delayed heartbeat.
        """
        try:
            route, params = self._match_route(request)
            credential = authenticate(request.headers)
        except ApiError as error:
            return error.to_reply()

        status = self.rate_limiter.acquire(credential.rate_limit_key)
        limit_headers = self.rate_limiter.headers(status)
        try:
            if not status.allowed:
                raise self._rate_limited()
            if route.token_only and credential.scheme != "token":
                message = "Unauthorized to access requested resource"
                raise ApiError(403, 9109, message)
            reply = route.handler(self, request, params)
        except ApiError as error:
            reply = error.to_reply()
        reply.headers.update(limit_headers)
        return reply

    def _match_route(self, request: ApiRequest) -> tuple[Route, dict[str, str]]:
        allowed_methods = []
        for route in ROUTES:
            match = route.pattern.fullmatch(request.path)
            if match is None:
                continue
            if route.method == request.method:
                return route, match.groupdict()
            allowed_methods.append(route.method)
        if not allowed_methods:
            raise no_route()
        allow = ", ".join(sorted(set(allowed_methods)))
        # The live API's reply to a wrong method is not documented, so the code
        # 7001 is the demo's choice.
        message = f"Method {request.method} is not allowed for this URI, use {allow}"
        raise ApiError(405, 7001, message, headers={"Allow": allow})

    def _rate_limited(self) -> ApiError:
        limit = self.rate_limiter.max_requests
        window = math.ceil(self.rate_limiter.window_seconds)
        message = (
            f"Rate limited: more than {limit} requests per {window} seconds. "
            "Please wait and consider throttling your request speed"
        )
        return ApiError(429, 10000, message)

    def _delay_reply(self) -> None:
        low, high = self.latency
        with self._rng_lock:
            delay = self._rng.uniform(low, high)
        if self._stop_event.wait(delay):
            raise ServerStopping

    # Endpoints. Each takes the request and the path parameters of its route.

    def verify_user_token(self, request: ApiRequest, params: dict[str, str]) -> Reply:
        return _token_verify_reply()

    def verify_account_token(
        self, request: ApiRequest, params: dict[str, str]
    ) -> Reply:
        _require_account(request, params)
        return _token_verify_reply()

    def get_user(self, request: ApiRequest, params: dict[str, str]) -> Reply:
        return Reply(200, success_envelope(data.DEMO_USER))

    def list_accounts(self, request: ApiRequest, params: dict[str, str]) -> Reply:
        page, per_page = parse_paging(request.query)
        accounts = data.ACCOUNTS
        name = _query_value(request.query, "name")
        if name:
            accounts = [a for a in accounts if name.lower() in a["name"].lower()]
        direction = _parse_direction(request.query)
        if direction is not None:
            accounts = sorted(
                accounts,
                key=lambda account: account["name"].lower(),
                reverse=direction == "desc",
            )
        return paged_reply(accounts, page, per_page)

    def list_memberships(self, request: ApiRequest, params: dict[str, str]) -> Reply:
        page, per_page = parse_paging(request.query)
        memberships = data.MEMBERSHIPS
        name = _query_value(request.query, "account.name") or _query_value(
            request.query, "name"
        )
        if name:
            memberships = [
                m for m in memberships if name.lower() in m["account"]["name"].lower()
            ]
        status = _query_value(request.query, "status")
        if status is not None:
            if status not in ("accepted", "pending", "rejected"):
                detail = "status must be one of accepted, pending, rejected"
                raise invalid_parameter(detail)
            memberships = [m for m in memberships if m["status"] == status]
        memberships = _order_memberships(memberships, request.query)
        return paged_reply(memberships, page, per_page)

    def list_scripts(self, request: ApiRequest, params: dict[str, str]) -> Reply:
        account = _require_account(request, params)
        scripts = data.SCRIPTS_BY_ACCOUNT_ID[account["id"]]
        return Reply(200, success_envelope(scripts))

    def start_live_tail(self, request: ApiRequest, params: dict[str, str]) -> Reply:
        account = _require_account(request, params)
        body = parse_json_object(request.body)
        script_id = _require_script(account, body)
        _validate_live_tail_options(body)
        session_id = self._random_hex(32)
        if self._live_tail is not None:
            ws_url = self._live_tail.register(
                session_id,
                account["id"],
                script_id,
                body.get("filters"),
                str(body.get("filterCombination", "and")).lower(),
            )
        else:
            # Without the WebSocket server the URL leads nowhere: connecting
            # to it gets a 400 "No route" reply from this server.
            ws_url = f"{self.origin.replace('http', 'ws', 1)}{API_PREFIX}"
            ws_url += f"/live-tail/ws/{session_id}"
        logger.debug("Live tail started for %s in account %s", script_id, account["id"])
        messages = [{"message": SUCCESS_MESSAGE}]
        return Reply(200, success_envelope({"wsUrl": ws_url}, messages=messages))

    def heartbeat(self, request: ApiRequest, params: dict[str, str]) -> Reply:
        account = _require_account(request, params)
        body = parse_json_object(request.body)
        script = _require_script(account, body)
        self._delay_reply()
        if script in data.FLAKY_WORKERS:
            self._fail_now_and_then(account["id"], script)
        messages = [{"message": SUCCESS_MESSAGE}]
        return Reply(200, success_envelope({}, messages=messages))

    def _fail_now_and_then(self, account_id: str, script: str) -> None:
        """Fail some heartbeats of a flaky demo Worker, in a fixed pattern.

        Beats 4 and 5 of every 12 get a 503 and beat 9 a 429 with Retry-After,
        so the demo shows retries, backoff and recovery.
        """
        with self._rng_lock:
            count = self._flaky_counts.get((account_id, script), 0) + 1
            self._flaky_counts[(account_id, script)] = count
        step = count % 12
        if step in (4, 5):
            raise ApiError(503, 10013, "Service temporarily unavailable (demo)")
        if step == 9:
            raise ApiError(
                429,
                971,
                "Please wait and consider throttling your request speed (demo)",
                headers={"Retry-After": "3"},
            )


ACCOUNT_PATH = r"/accounts/(?P<account_id>[^/]+)"
LIVE_TAIL_PATH = ACCOUNT_PATH + r"/workers/observability/telemetry/live-tail"

ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        re.compile(r"/user/tokens/verify"),
        DemoApi.verify_user_token,
        token_only=True,
    ),
    Route(
        "GET",
        re.compile(ACCOUNT_PATH + r"/tokens/verify"),
        DemoApi.verify_account_token,
        token_only=True,
    ),
    Route("GET", re.compile(r"/user"), DemoApi.get_user),
    Route("GET", re.compile(r"/accounts"), DemoApi.list_accounts),
    Route("GET", re.compile(r"/memberships"), DemoApi.list_memberships),
    Route("GET", re.compile(ACCOUNT_PATH + r"/workers/scripts"), DemoApi.list_scripts),
    Route("POST", re.compile(LIVE_TAIL_PATH), DemoApi.start_live_tail),
    Route("POST", re.compile(LIVE_TAIL_PATH + r"/heartbeat"), DemoApi.heartbeat),
)


def _token_verify_reply() -> Reply:
    result = {
        "id": data.DEMO_TOKEN_ID,
        "status": "active",
        "not_before": data.DEMO_TOKEN_NOT_BEFORE,
        "expires_on": data.DEMO_TOKEN_EXPIRES_ON,
    }
    messages = [{"code": 10000, "message": "This API Token is valid and active"}]
    return Reply(200, success_envelope(result, messages=messages))


def _require_account(request: ApiRequest, params: dict[str, str]) -> dict[str, Any]:
    """Return the account named in the path, or raise the live API's 7003 reply."""
    account_id = params["account_id"]
    account = None
    if ACCOUNT_ID_PATTERN.fullmatch(account_id):
        account = data.ACCOUNTS_BY_ID.get(account_id)
    if account is None:
        raise unknown_object(request.path)
    return account


def _require_script(account: dict[str, Any], body: dict[str, Any]) -> str:
    script_id = body.get("scriptId")
    if not isinstance(script_id, str) or not script_id:
        raise invalid_parameter("scriptId is required and must be a non-empty string")
    names = {script["id"] for script in data.SCRIPTS_BY_ACCOUNT_ID[account["id"]]}
    if script_id not in names:
        raise ApiError(404, 10007, "This Worker does not exist on your account.")
    return script_id


def parse_json_object(body: bytes) -> dict[str, Any]:
    """Decode a request body that must be a JSON object."""
    if not body.strip():
        raise ApiError(400, 6007, "Malformed JSON in request body: the body is empty")
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, ValueError) as error:
        raise ApiError(400, 6007, f"Malformed JSON in request body: {error}") from None
    if not isinstance(value, dict):
        raise invalid_parameter("The request body must be a JSON object")
    return value


def _validate_live_tail_options(body: dict[str, Any]) -> None:
    combination = body.get("filterCombination")
    if combination is not None and combination not in FILTER_COMBINATIONS:
        raise invalid_parameter("filterCombination must be one of and, or, AND, OR")
    filters = body.get("filters")
    if filters is not None:
        _validate_filters(filters, depth=1)


def _validate_filters(filters: Any, depth: int) -> None:
    """Check a filter list against the live-tail request schema.

    A node is either a leaf ``{"key", "operation", "type", "value"}`` or a group
    ``{"kind": "group", "filterCombination", "filters"}``, nested at most
    MAX_FILTER_DEPTH levels deep.
    """
    if not isinstance(filters, list):
        raise invalid_parameter("filters must be a list of filter objects")
    if depth > MAX_FILTER_DEPTH:
        raise invalid_parameter(f"filters are nested more than {MAX_FILTER_DEPTH} deep")
    for node in filters:
        if not isinstance(node, dict):
            raise invalid_parameter("Each filter must be a JSON object")
        if node.get("kind") == "group":
            if node.get("filterCombination") not in FILTER_COMBINATIONS:
                detail = "A filter group needs filterCombination and, or, AND or OR"
                raise invalid_parameter(detail)
            if not node.get("filters"):
                raise invalid_parameter("A filter group needs a non-empty filters list")
            _validate_filters(node["filters"], depth + 1)
            continue
        if not isinstance(node.get("key"), str) or not node["key"]:
            raise invalid_parameter("Each filter needs a non-empty string key")
        if node.get("operation") not in FILTER_OPERATIONS:
            detail = f"Unknown filter operation {node.get('operation')!r}"
            raise invalid_parameter(detail)
        if node.get("type") not in FILTER_TYPES:
            raise invalid_parameter("A filter type must be string, number or boolean")


# ---------------------------------------------------------------------------
# Query parameters and paging
# ---------------------------------------------------------------------------


def _query_value(query: dict[str, list[str]], name: str) -> str | None:
    """Return the first value of a query parameter, or None if it is absent."""
    values = query.get(name)
    return values[0] if values else None


def _parse_direction(query: dict[str, list[str]]) -> str | None:
    direction = _query_value(query, "direction")
    if direction is not None and direction not in ("asc", "desc"):
        raise invalid_parameter("direction must be asc or desc")
    return direction


def _order_memberships(
    memberships: list[dict[str, Any]], query: dict[str, list[str]]
) -> list[dict[str, Any]]:
    order = _query_value(query, "order")
    direction = _parse_direction(query)
    sort_keys: dict[str, Callable[[dict[str, Any]], str]] = {
        "id": lambda m: m["id"],
        "account.name": lambda m: m["account"]["name"].lower(),
        "status": lambda m: m["status"],
    }
    if order is not None and order not in sort_keys:
        raise invalid_parameter("order must be id, account.name or status")
    if order is None and direction is None:
        return memberships
    key = sort_keys[order or "account.name"]
    return sorted(memberships, key=key, reverse=direction == "desc")


def parse_paging(query: dict[str, list[str]]) -> tuple[int, int]:
    """Return (page, per_page) from the query, or raise the live API's 400 reply."""
    page_text = _query_value(query, "page")
    page = 1
    if page_text is not None:
        if not page_text.isdigit() or int(page_text) < 1:
            raise invalid_parameter("page variable must be a number of at least 1")
        page = int(page_text)

    per_page_text = _query_value(query, "per_page")
    per_page = DEFAULT_PER_PAGE
    if per_page_text is not None:
        in_range = per_page_text.isdigit() and (
            MIN_PER_PAGE <= int(per_page_text) <= MAX_PER_PAGE
        )
        if not in_range:
            detail = (
                f"per_page variable must be a number between {MIN_PER_PAGE} "
                f"and {MAX_PER_PAGE}"
            )
            raise invalid_parameter(detail)
        per_page = int(per_page_text)
    return page, per_page


def paged_reply(items: list[dict[str, Any]], page: int, per_page: int) -> Reply:
    """Return one page of ``items``. A page past the end has an empty result."""
    start = (page - 1) * per_page
    page_items = items[start : start + per_page]
    result_info = {
        "page": page,
        "per_page": per_page,
        "count": len(page_items),
        "total_count": len(items),
        "total_pages": math.ceil(len(items) / per_page),
    }
    return Reply(200, success_envelope(page_items, result_info=result_info))


# ---------------------------------------------------------------------------
# HTTP transport
# ---------------------------------------------------------------------------


class _DemoRequestHandler(http.server.BaseHTTPRequestHandler):
    """Reads one HTTP/1.1 request at a time from a keep-alive connection."""

    protocol_version = "HTTP/1.1"
    server_version = "cf-livetail-demo"
    sys_version = ""
    timeout = IDLE_TIMEOUT_SECONDS
    # Headers and body go out in two writes, so Nagle's algorithm would hold the
    # body back until the client acknowledges the headers.
    disable_nagle_algorithm = True
    server: _DemoHTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track_connection(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack_connection(self.connection)

    def do_GET(self) -> None:
        self._handle_api_request()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _handle_api_request(self) -> None:
        url = urlsplit(self.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        body, problem = self._read_body(headers)
        self.server.request_log.append(
            RecordedRequest(
                method=self.command,
                path=url.path,
                query=parse_qs(url.query, keep_blank_values=True),
                headers=headers,
                body=body,
            )
        )
        if problem is not None:
            self._send_reply(problem)
            return

        reply = self._dispatch(url.path, url.query, headers, body)
        if reply is None:
            self.close_connection = True
            return
        self._send_reply(reply)

    def _dispatch(
        self, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> Reply | None:
        """Run the API on one request. Returns None when the server is stopping."""
        if not path.startswith(API_PREFIX + "/"):
            return no_route().to_reply()
        request = ApiRequest(
            method=self.command,
            path=path.removeprefix(API_PREFIX),
            query=parse_qs(query, keep_blank_values=True),
            headers=headers,
            body=body,
        )
        try:
            return self.server.api.handle(request)
        except ServerStopping:
            logger.debug(
                "Dropped %s %s because the server is stopping", self.command, path
            )
            return None
        except Exception:
            # Keeps the connection thread alive and sends the client a 500 envelope.
            logger.debug("Internal error on %s %s", self.command, path, exc_info=True)
            # 10001 is the demo's choice, the live API documents no code here.
            error = ApiError(500, 10001, "Internal error in the demo server")
            return error.to_reply()

    def _read_body(self, headers: dict[str, str]) -> tuple[bytes, Reply | None]:
        """Read the request body. Returns the body and an error reply, if any.

        An error reply closes the connection because the unread body would be
        parsed as the next request.
        """
        if "transfer-encoding" in headers:
            detail = "Chunked request bodies are not supported, send Content-Length"
            error = ApiError(
                411, 6003, "Invalid request headers", chain=[(11000, detail)]
            )
            return b"", _closing(error)

        length_text = headers.get("content-length")
        if length_text is None:
            return b"", None
        length_text = length_text.strip()
        if not length_text.isdigit():
            detail = (
                f"Content-Length must be a non-negative integer, got {length_text!r}"
            )
            error = ApiError(
                400, 6003, "Invalid request headers", chain=[(11000, detail)]
            )
            return b"", _closing(error)

        length = int(length_text)
        if length > MAX_BODY_BYTES:
            detail = f"The body is {length} bytes, the maximum is {MAX_BODY_BYTES}"
            error = ApiError(
                413, 6008, "Request body too large", chain=[(11000, detail)]
            )
            return b"", _closing(error)

        body = self.rfile.read(length)
        if len(body) < length:
            detail = f"The body ended after {len(body)} of {length} bytes"
            error = ApiError(
                400, 6008, "Incomplete request body", chain=[(11000, detail)]
            )
            return body, _closing(error)
        return body, None

    def _send_reply(self, reply: Reply) -> None:
        payload = json.dumps(reply.body, ensure_ascii=False).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("cf-ray", self.server.api.new_ray_id())
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def send_error(
        self, code: int, message: str | None = None, explain: str | None = None
    ) -> None:
        """Send http.server's own errors (bad request line, headers too long) as JSON.

        The connection closes afterwards because the request was not fully read.
        """
        if self.request_version == "HTTP/0.9":
            # http.server assumes HTTP/0.9 for a request line it cannot parse,
            # which would leave out the status line and headers.
            self.request_version = self.protocol_version
        phrase = message or self.responses.get(code, ("Error",))[0]
        chain = [(11000, explain)] if explain else None
        error = ApiError(code, TRANSPORT_ERROR_CODE, phrase, chain=chain)
        try:
            self._send_reply(_closing(error))
        except OSError:
            logger.debug("Could not send HTTP %d to %s", code, self.client_address)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        logger.debug("%s %s", self.address_string(), format % args)


def _closing(error: ApiError) -> Reply:
    reply = error.to_reply()
    reply.close = True
    return reply


class _DemoHTTPServer(http.server.ThreadingHTTPServer):
    """Threaded HTTP server that can close its open connections on stop."""

    daemon_threads = True
    api: DemoApi

    def __init__(
        self, address: tuple[str, int], family: socket.AddressFamily, log: RequestLog
    ) -> None:
        self.address_family = family
        self.request_log = log
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _DemoRequestHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup that
        # can take seconds. The demo needs only the bound address.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def track_connection(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack_connection(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        """Shut down every open client connection, so idle keep-alive threads exit."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # The client already closed it.

    def process_request(self, request: Any, client_address: Any) -> None:
        # Same as ThreadingMixIn.process_request, with a thread name that says
        # which server and client the thread serves.
        name = f"demo-api-{self.server_port}-connection-{client_address[1]}"
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=name,
            daemon=True,
        )
        thread.start()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver prints the traceback to stderr by default.
        logger.debug("Error while serving %s", client_address, exc_info=True)


# ---------------------------------------------------------------------------
# Public server
# ---------------------------------------------------------------------------


class DemoServer:
    """Demo Cloudflare API on a loopback address, served from a daemon thread.

    ``latency`` is the (minimum, maximum) delay in seconds before a heartbeat
    reply. ``seed`` fixes the random delays, cf-ray values and live-tail session
    ids. The accounts and scripts are the same whatever the seed.
    ``rate_limit`` is (requests, window in seconds) per credential, 1,200 per
    5 minutes as on the live API. ``event_rate`` is the average number of
    events per second that each live-tail session generates before its
    filters apply, and ``seed`` also fixes their sequence. ``live_tail=False``
    leaves the WebSocket server out.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: tuple[float, float] = (0.04, 0.18),
        seed: int | None = None,
        rate_limit: tuple[int, float] = (1200, 300.0),
        event_rate: float = 5.0,
        live_tail: bool = True,
    ) -> None:
        _validate_loopback(host)
        low, high = latency
        if not 0 <= low <= high:
            raise ValueError(
                f"latency must be (min, max) with 0 <= min <= max: {latency}"
            )
        max_requests, window_seconds = rate_limit
        if max_requests < 1 or window_seconds <= 0:
            raise ValueError(
                f"rate_limit must be (requests >= 1, seconds > 0): {rate_limit}"
            )
        self.host = host
        self._requested_port = port
        self._latency = (float(low), float(high))
        self._rng = random.Random(seed)
        self._rate_limiter = RateLimiter(max_requests, float(window_seconds))
        self._requests = RequestLog(REQUEST_LOG_SIZE)
        self._stop_event = threading.Event()
        self._httpd: _DemoHTTPServer | None = None
        self._thread: threading.Thread | None = None
        # Bound port, kept after stop() so that base_url still names the server.
        self._port: int | None = None
        self._seed = seed
        if event_rate <= 0:
            raise ValueError(f"event_rate must be positive: {event_rate}")
        self._event_rate = float(event_rate)
        self._serve_live_tail = live_tail
        self._live_tail: LiveTailServer | None = None

    @property
    def live_tail(self) -> LiveTailServer | None:
        """The WebSocket server of the live-tail sessions, once started."""
        return self._live_tail

    @property
    def requests(self) -> RequestLog:
        """Latest requests received (at most 1,000), including rejected ones."""
        return self._requests

    @property
    def port(self) -> int:
        """Bound TCP port. Raises RuntimeError before start()."""
        if self._port is None:
            raise RuntimeError("DemoServer has no port yet, call start() first")
        return self._port

    @property
    def origin(self) -> str:
        """Scheme, host and port, such as "http://127.0.0.1:40123"."""
        host = self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """API base URL without a trailing slash, for the client's base URL setting."""
        return self.origin + API_PREFIX

    def start(self) -> DemoServer:
        """Bind the port and serve from a daemon thread. Returns self."""
        if self._httpd is not None or self._stop_event.is_set():
            message = "DemoServer was already started, create a new one to serve again"
            raise RuntimeError(message)
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        httpd = _DemoHTTPServer(
            (self.host, self._requested_port), family, self._requests
        )
        try:
            live_tail = self._start_live_tail()
        except BaseException:
            httpd.server_close()
            raise
        self._httpd = httpd
        self._port = httpd.server_port
        httpd.api = DemoApi(
            origin=self.origin,
            latency=self._latency,
            rng=self._rng,
            rate_limiter=self._rate_limiter,
            stop_event=self._stop_event,
            live_tail=live_tail,
        )
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": POLL_INTERVAL_SECONDS},
            name=f"demo-api-{self.port}",
            daemon=True,
        )
        self._thread.start()
        logger.info("Demo API started at %s", self.base_url)
        return self

    def _start_live_tail(self) -> LiveTailServer | None:
        if not self._serve_live_tail:
            return None
        # Imported here so that the API alone starts without the websockets
        # package being loaded.
        from tui.demo.ws import LiveTailServer

        self._live_tail = LiveTailServer(
            self.host, rate=self._event_rate, seed=self._seed
        ).start()
        return self._live_tail

    def stop(self) -> None:
        """Stop serving and close every connection. Safe to call more than once.

        A heartbeat that is waiting out its delay gets no reply, and its connection
        closes as it would if a real server went away.
        """
        self._stop_event.set()
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if self._live_tail is not None:
            self._live_tail.stop()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        logger.info("Demo API stopped")

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _validate_loopback(host: str) -> None:
    """Raise ValueError unless ``host`` is a loopback address or "localhost"."""
    if host == "localhost":
        return
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(
            f"host must be an IP address or localhost, got {host!r}"
        ) from None
    if not address.is_loopback:
        raise ValueError(f"host must be a loopback address, got {host!r}")
