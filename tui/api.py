"""Async client for the few Cloudflare API calls a live tail needs.

Credentials go only to the configured base URL: every request is built from
it, redirects are never followed, and TLS verification stays on.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import re
import socket
import ssl
import time
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import certifi
import httpx

from tui import envelope as env
from tui.budget import RequestBudget
from tui.credentials import Credential
from tui.envelope import CallResult
from tui.errors import UserError
from tui.http1 import (
    BadReply,
    BadRequest,
    BodyTooLarge,
    ConnectFailed,
    ConnectionDropped,
    PostConnection,
    StepTimeout,
    describe_protocol_error,
)
from tui.text import plural

log = logging.getLogger(__name__)
# One encoder for every request body: json.dumps builds a new one per call
# when given any option.
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))
# A client serves one session, so it sends to one or a few (account, Worker) pairs.
MAX_CACHED_HEARTBEATS = 16

DEFAULT_BASE_URL = "https://api.cloudflare.com/client/v4"
ACCOUNT_ID = re.compile(r"^[0-9a-f]{32}$")
# Worker names are letters, digits, dashes and underscores, at most 63 long.
SCRIPT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,62}$")
MAX_BODY = 1024 * 1024
PAGE_SIZE = 50
MAX_PAGES = 200
USER_AGENT = "cf-livetail"


class ApiError(Exception):
    """A failed API call other than a heartbeat; carries its CallResult."""

    def __init__(self, what: str, result: CallResult):
        self.what = what
        self.result = result
        super().__init__(f"{what} failed: {result.message}")

    @property
    def outcome(self) -> str:
        return self.result.outcome


@dataclass(frozen=True)
class Account:
    id: str
    name: str


@dataclass(frozen=True)
class Script:
    id: str
    modified_on: str | None = None


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    # Only the literal name: other *.localhost names depend on the resolver.
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(url: str) -> str:
    """Return the base URL without a trailing slash, or raise UserError."""
    url = url.strip()
    if not url:
        raise UserError(
            f"the API base URL is empty: give one such as {DEFAULT_BASE_URL}"
        )
    if not url.isprintable() or not url.isascii():
        raise UserError(
            f"invalid API base URL {_show(url)}: it contains a control character "
            "or a non-ASCII character"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UserError(f"invalid API base URL {_show(url)}: {exc}") from None
    if port == 0:
        raise UserError(f"invalid API base URL {_show(url)}: port 0")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UserError(
            f"invalid API base URL {url!r}: expected https://host/path, for "
            f"example {DEFAULT_BASE_URL}"
        )
    if parts.username or parts.password:
        raise UserError("the API base URL must not contain a user name or password")
    if parts.query or parts.fragment:
        raise UserError(f"the API base URL {url!r} must not have a query or fragment")
    if " " in parts.path:
        raise UserError(
            f"invalid API base URL {url!r}: its path contains a space (write it "
            "as %20 if the server expects one)"
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise UserError(
            f"refusing plain http:// for {parts.hostname}: credentials would travel "
            "unencrypted; use https://, or http:// only for a loopback address"
        )
    return url.rstrip("/")


def check_account_id(value: str) -> str:
    """Return a valid account id (32 lowercase hex), or raise UserError."""
    candidate = value.strip().lower()
    if not ACCOUNT_ID.fullmatch(candidate):
        raise UserError(
            f"invalid account id {_show(value)}: an account id is 32 hexadecimal "
            "characters (see the dashboard's Overview page, or run "
            "`cf-livetail --list-accounts`)"
        )
    return candidate


def check_script_name(value: str) -> str:
    """Return a valid Worker name, or raise UserError."""
    if not SCRIPT_NAME.fullmatch(value):
        raise UserError(
            f"invalid Worker name {_show(value)}: use letters, digits, '-' and '_' "
            "(at most 63), or run `cf-livetail --list-scripts --account ID`"
        )
    return value


def _show(value: str) -> str:
    """Quote a user value for an error message, with control characters escaped."""
    shown = repr(value[:80])
    return shown + ("…" if len(value) > 80 else "")


def make_ssl_context(ca_bundle: str | None) -> ssl.SSLContext:
    """Build a verifying TLS context.

    The CA file is ``ca_bundle`` (a corporate CA) if set, else SSL_CERT_FILE
    if set, else certifi's bundle, as httpx does by default; SSL_CERT_DIR
    adds a directory of CA files.
    """
    cafile = ca_bundle or os.environ.get("SSL_CERT_FILE") or certifi.where()
    capath = os.environ.get("SSL_CERT_DIR") or None
    try:
        return ssl.create_default_context(cafile=cafile, capath=capath)
    except (OSError, ssl.SSLError) as exc:
        raise UserError(
            f"cannot load CA certificates from {cafile}: {exc}; check ca_bundle in "
            "the settings file or SSL_CERT_FILE"
        ) from None


class CloudflareClient:
    """The Cloudflare API calls of one session, over one connection pool."""

    def __init__(
        self,
        base_url: str,
        credential: Credential,
        *,
        timeout: float = 15.0,
        ca_bundle: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        budget: RequestBudget | None = None,
    ):
        self.base_url = check_base_url(base_url)
        self.credential = credential
        self.timeout = timeout
        self._ca_bundle = ca_bundle
        self._transport = transport
        self.budget = budget
        self._ssl_context = make_ssl_context(ca_bundle)
        self._http = self._new_http()
        self._posts = self._new_post_connection()
        # A heartbeat's path and body never change for one Worker, so they are
        # checked and encoded once per (account, Worker).
        self._heartbeats: dict[tuple[str, str], tuple[str, Any, bytes]] = {}
        # What the last listings left out.
        self.skipped_scripts = 0
        self.skipped_accounts = 0
        self.accounts_truncated = False

    def _new_http(self) -> httpx.AsyncClient:
        host = urlsplit(self.base_url).hostname or ""
        loopback = is_loopback(host)
        return httpx.AsyncClient(
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            timeout=httpx.Timeout(self.timeout),
            follow_redirects=False,
            # A loopback server must never be reached through a proxy.
            trust_env=not loopback,
            verify=self._ssl_context,
            transport=self._transport,
            limits=httpx.Limits(max_connections=4, keepalive_expiry=20.0),
        )

    def _new_post_connection(self) -> PostConnection | None:
        """Return the connection for POST calls, or None to send them through httpx.

        httpx takes them when a test supplies its transport, and when a proxy
        from the environment applies, because the plain connection does not
        go through proxies.
        """
        if self._transport is not None:
            return None
        parts = urlsplit(self.base_url)
        host = parts.hostname or ""
        if not is_loopback(host):
            proxies = urllib.request.getproxies_environment()
            if (proxies.get(parts.scheme) or proxies.get("all")) and not (
                urllib.request.proxy_bypass_environment(host, proxies)
            ):
                return None
        return PostConnection(
            self.base_url,
            self._ssl_context,
            user_agent=USER_AGENT,
            max_body=MAX_BODY,
            timeout=self.timeout,
        )

    async def __aenter__(self) -> CloudflareClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._posts is not None:
            await self._posts.aclose()
        await self._http.aclose()

    async def reset_pool(self) -> None:
        """Drop every pooled connection, after timeouts or network errors."""
        if self._posts is not None:
            self._posts.close()
        old, self._http = self._http, self._new_http()
        try:
            await old.aclose()
        except Exception:  # noqa: BLE001 - a broken pool may fail to close
            log.debug("closing the old connection pool failed", exc_info=True)

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        deadline: float | None = None,
        encoded: bytes | None = None,
    ) -> CallResult:
        """Send one request and classify the reply.

        Timeouts, network errors and bad replies come back as a CallResult
        rather than an exception. ``deadline`` bounds the whole call,
        including a reply that trickles in. ``encoded`` is ``json_body``
        already encoded, when the caller has it.
        """
        url = self.base_url + path
        headers = self.credential.headers()
        if self.budget is not None:
            # Waits rather than let the app's own traffic pass the rate limit.
            await self.budget.acquire()
        started = time.monotonic()
        budget = self.timeout if deadline is None else deadline

        def elapsed() -> float:
            return round((time.monotonic() - started) * 1000, 1)

        try:
            async with asyncio.timeout(budget):
                if method == "POST" and params is None and self._posts is not None:
                    payload = encoded or _COMPACT_JSON.encode(json_body).encode()
                    status, reply_headers, body = await self._posts.post(
                        path, payload, headers
                    )
                    latency = elapsed()
                else:
                    async with self._http.stream(
                        method, url, params=params, json=json_body, headers=headers
                    ) as reply:
                        body = await self._read_limited(reply)
                        latency = elapsed()
                        status = reply.status_code
                        reply_headers = reply.headers
        except TimeoutError:
            return env.failure(
                env.TIMEOUT, f"no complete reply within {budget:g} s", elapsed()
            )
        except httpx.TimeoutException as exc:
            return env.failure(env.TIMEOUT, f"timed out ({_exc_name(exc)})", elapsed())
        except StepTimeout as exc:
            return env.failure(env.TIMEOUT, f"timed out ({exc})", elapsed())
        except (_BodyTooLarge, BodyTooLarge):
            return env.failure(
                env.BAD_RESPONSE, f"reply larger than {MAX_BODY} bytes", elapsed()
            )
        except ConnectFailed as exc:
            return env.failure(
                env.NETWORK_ERROR, _connect_message(exc.cause), elapsed()
            )
        except ConnectionDropped as exc:
            return env.failure(
                env.NETWORK_ERROR, f"connection dropped: {exc}", elapsed()
            )
        except BadReply as exc:
            return env.failure(
                env.NETWORK_ERROR, f"not an HTTP/1.1 reply: {exc}", elapsed()
            )
        except BadRequest as exc:
            return env.failure(
                env.REJECTED, f"request not sent: {exc}; check the credential", 0.0
            )
        except (httpx.TransportError, OSError, ssl.SSLError) as exc:
            return env.failure(env.NETWORK_ERROR, _network_message(exc), elapsed())
        result = env.classify(status, body, reply_headers, latency)
        if not result.ok:
            log.debug("%s %s -> %s; body: %s", method, path, status, body[:MAX_BODY])
        return result

    @staticmethod
    async def _read_limited(reply: httpx.Response) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in reply.aiter_bytes():
            size += len(chunk)
            if size > MAX_BODY:
                raise _BodyTooLarge
            chunks.append(chunk)
        return b"".join(chunks)

    async def _checked(self, what: str, method: str, path: str, **kw: Any):
        result = await self.call(method, path, **kw)
        if not result.ok:
            raise ApiError(what, result)
        assert result.envelope is not None
        return result.envelope

    async def verify(self, account_id: str | None = None) -> str:
        """Check the credential with the API; return a short description."""
        if self.credential.kind == "global_key" or self.credential.kind == "oauth":
            envelope = await self._checked("credential check", "GET", "/user")
            user = envelope.result if isinstance(envelope.result, dict) else {}
            email = user.get("email")
            return f"signed in as {email}" if isinstance(email, str) else "valid"
        try:
            envelope = await self._checked(
                "token verification", "GET", "/user/tokens/verify"
            )
        except ApiError as exc:
            # Account-owned tokens verify under the account, not the user.
            if account_id is None or exc.outcome != env.AUTH_FAILED:
                raise
            path = f"/accounts/{check_account_id(account_id)}/tokens/verify"
            envelope = await self._checked("token verification", "GET", path)
        token = envelope.result if isinstance(envelope.result, dict) else {}
        status = token.get("status")
        if isinstance(status, str) and status != "active":
            raise ApiError(
                "token verification",
                env.failure(env.AUTH_FAILED, f"the token is {status}", 0.0),
            )
        return "token active"

    async def list_accounts(self, page_size: int = PAGE_SIZE) -> list[Account]:
        """Return every account the credential can see, across all pages.

        Paging stops on the last page (``total_pages``, or ``total_count``
        reached), on an empty page, on a page that repeats one already seen,
        and after MAX_PAGES pages. No account is listed twice.
        """
        accounts: dict[str, Account] = {}
        seen_pages: set[tuple[str, ...]] = set()
        self.skipped_accounts = 0
        self.accounts_truncated = False
        for page in range(1, MAX_PAGES + 1):
            envelope = await self._checked(
                "listing accounts",
                "GET",
                "/accounts",
                params={"page": page, "per_page": page_size},
            )
            rows = envelope.result if isinstance(envelope.result, list) else []
            ids = tuple(str(row.get("id")) for row in rows if isinstance(row, dict))
            if not ids or ids in seen_pages:
                break
            seen_pages.add(ids)
            for row in rows:
                account = _account_from(row)
                if account is None:
                    self.skipped_accounts += 1
                elif account.id not in accounts:
                    accounts[account.id] = account
            if _last_page(envelope.result_info, page, len(accounts)):
                break
        else:
            self.accounts_truncated = True
            log.warning("stopped listing accounts after %d pages", MAX_PAGES)
        return sorted(accounts.values(), key=lambda a: (a.name.lower(), a.id))

    def account_notes(self) -> list[str]:
        """Say what the last account listing left out, if anything."""
        notes = []
        if self.skipped_accounts:
            notes.append(
                f"left out {plural(self.skipped_accounts, 'account')} whose id is "
                "missing or invalid in the API's reply"
            )
        if self.accounts_truncated:
            notes.append(
                f"stopped listing accounts after {MAX_PAGES} pages; use --account "
                "ID for an account not listed"
            )
        return notes

    async def list_scripts(self, account_id: str) -> list[Script]:
        """Return the account's Workers (the API sends them as one page)."""
        account_id = check_account_id(account_id)
        envelope = await self._checked(
            "listing Workers", "GET", f"/accounts/{account_id}/workers/scripts"
        )
        rows = envelope.result if isinstance(envelope.result, list) else []
        scripts: dict[str, Script] = {}
        skipped = 0
        for row in rows:
            if not isinstance(row, dict):
                continue
            name = row.get("id")
            if not isinstance(name, str) or not SCRIPT_NAME.fullmatch(name):
                # The app could not tail a Worker whose name it must reject.
                skipped += 1
                log.debug("skipped a Worker entry without a valid id: %.200r", row)
                continue
            modified = row.get("modified_on")
            scripts.setdefault(
                name, Script(name, modified if isinstance(modified, str) else None)
            )
        if skipped:
            log.warning("skipped %d Worker entries without a valid id", skipped)
        self.skipped_scripts = skipped
        return sorted(scripts.values(), key=lambda s: s.id.lower())

    def _tail_path(self, account_id: str, suffix: str = "") -> str:
        account_id = check_account_id(account_id)
        return (
            f"/accounts/{account_id}/workers/observability/telemetry/live-tail{suffix}"
        )

    async def prepare_live_tail(
        self,
        account_id: str,
        script: str,
        deadline: float | None = None,
        *,
        filters: list[dict[str, Any]] | None = None,
        filter_combination: str = "and",
    ) -> CallResult:
        """Ask the API to prepare the live tail; ``result.extra['ws_url']`` is set.

        ``filters`` (the live-tail filter list) and ``filter_combination``
        ("and" or "or") are sent only when the list is not empty.
        """
        body: dict[str, Any] = {"scriptId": check_script_name(script)}
        if filters:
            body["filters"] = filters
            body["filterCombination"] = filter_combination
        result = await self.call(
            "POST", self._tail_path(account_id), json_body=body, deadline=deadline
        )
        if result.ok:
            payload = result.envelope.result if result.envelope else None
            ws_url = payload.get("wsUrl") if isinstance(payload, dict) else None
            if isinstance(ws_url, str):
                result.extra["ws_url"] = ws_url
        return result

    async def heartbeat(
        self, account_id: str, script: str, deadline: float | None = None
    ) -> CallResult:
        """Send one live-tail heartbeat and classify the reply."""
        request = self._heartbeats.get((account_id, script))
        if request is None:
            body = {"scriptId": check_script_name(script)}
            path = self._tail_path(account_id, "/heartbeat")
            request = (path, body, _COMPACT_JSON.encode(body).encode())
            if len(self._heartbeats) >= MAX_CACHED_HEARTBEATS:
                self._heartbeats.clear()
            self._heartbeats[(account_id, script)] = request
        path, body, encoded = request
        return await self.call(
            "POST", path, json_body=body, deadline=deadline, encoded=encoded
        )


class _BodyTooLarge(Exception):
    pass


def _exc_name(exc: BaseException) -> str:
    return type(exc).__name__


def _connect_message(exc: OSError) -> str:
    """Say why the POST connection could not be opened."""
    text = str(exc) or _exc_name(exc)
    if isinstance(exc, socket.gaierror):
        return f"DNS lookup failed: {text}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"TLS verification failed: {text} (set SSL_CERT_FILE or ca_bundle "
            "for a corporate CA)"
        )
    return f"connection failed: {text}"


def _network_message(exc: BaseException) -> str:
    text = str(exc) or _exc_name(exc)
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return f"connection reset: {text}"
    if isinstance(exc, httpx.ConnectError):
        if "Name or service not known" in text or "nodename nor servname" in text:
            return f"DNS lookup failed: {text}"
        if "CERTIFICATE_VERIFY_FAILED" in text or isinstance(
            exc.__cause__, ssl.SSLError
        ):
            return (
                f"TLS verification failed: {text} (set SSL_CERT_FILE or ca_bundle "
                "for a corporate CA)"
            )
        return f"connection failed: {text}"
    if isinstance(exc, httpx.ProxyError):
        return f"proxy failed: {text}"
    if isinstance(exc, httpx.RemoteProtocolError):
        if text.lower().startswith("illegal "):
            # h11 found bytes that are not HTTP, and quoted them as a repr.
            return f"not an HTTP/1.1 reply: {describe_protocol_error(text)}"
        return f"connection dropped: {text}"
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return f"connection reset: {text}"
    return f"network error: {text}"


def _account_from(row: Any) -> Account | None:
    if not isinstance(row, dict):
        return None
    account_id = row.get("id")
    if not isinstance(account_id, str) or not ACCOUNT_ID.fullmatch(account_id):
        log.debug("skipped an account entry with an invalid id: %.200r", row)
        return None
    name = row.get("name")
    if not isinstance(name, str) or not name.strip():
        return Account(account_id, account_id)
    return Account(account_id, clean_name(name))


def clean_name(text: str) -> str:
    """Make a name from the API safe to draw: no control characters, one line.

    A name is data from the network; an escape sequence in it must never
    reach the terminal.
    """
    return env.one_line(text, 100)


def _last_page(info: dict[str, Any] | None, page: int, seen: int) -> bool:
    if not info:
        return True
    total_pages = info.get("total_pages")
    if isinstance(total_pages, int | float) and page >= total_pages:
        return True
    total_count = info.get("total_count")
    if isinstance(total_count, int | float) and seen >= total_count:
        return True
    per_page, count = info.get("per_page"), info.get("count")
    if isinstance(per_page, int) and isinstance(count, int) and count < per_page:
        return True
    return False
