"""Run a Stoplight Prism mock of the Cloudflare API subset on loopback.

The contract tests, benchmarks and scripts share these steps. They install a
pinned Prism with npm and write a patched copy of the OpenAPI document. Then
they start ``prism mock`` on 127.0.0.1, read the requests it logged and stop it.

Prism runs with ``-v debug`` so that its log records every request's headers
and body next to the validator's verdict. The log therefore contains the
credentials that clients send, so pass only made-up credentials to it.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

PRISM_PACKAGE = "@stoplight/prism-cli"
# 5.14.2 is the newest 5.x release whose package.json accepts Node 18 and 20.
# Releases 5.15.10 and later declare "node": ">=24.14.0" or higher.
PRISM_VERSION = "5.14.2"
# npm resolves Prism's own packages through caret ranges, so a later release of
# one of them could pull in a Node 24 requirement. These overrides pin them to
# the versions that prism-cli 5.14.2 resolved to on 2026-12-04.
PRISM_OVERRIDES = {
    "@stoplight/prism-core": "5.8.0",
    "@stoplight/prism-http": "5.12.0",
    "@stoplight/prism-http-server": "5.12.2",
}
MIN_NODE_MAJOR = 18

REPO_ROOT = Path(__file__).resolve().parent.parent
TOOLS_DIR = REPO_ROOT / "tests" / ".tools" / "prism"
SPEC_PATH = REPO_ROOT.parent / "shared" / "api" / "cloudflare-openapi-subset.json"

LIVE_TAIL_PATH = "/accounts/{account_id}/workers/observability/telemetry/live-tail"
# Operations that list only X-Auth-Email + X-Auth-Key although the live API also
# accepts an API token.
KEY_ONLY_PATHS = ("/accounts", "/user", "/memberships")
# Requests to this prefix match no operation, so Prism returns 404 and logs them.
LOG_SYNC_PREFIX = "/__prism-log-sync/"
LIVE_TAIL_WEBSOCKET_PATH = "/__live-tail-websocket"

NPM_INSTALL_TIMEOUT_S = 300.0
STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 5.0


class PrismSetupError(RuntimeError):
    """Prism or its inputs could not be installed, prepared or started."""


# --- Installation -----------------------------------------------------------


@dataclass(frozen=True)
class PrismInstall:
    executable: Path
    # Seconds spent in `npm install`, or None when an earlier install was reused.
    install_seconds: float | None


def find_spec(path: Path = SPEC_PATH) -> Path:
    """Return the path of the OpenAPI document, or raise if it is missing."""
    if not path.is_file():
        raise PrismSetupError(
            f"OpenAPI document not found at {path}: check out the shared API "
            "contract next to the repository (../shared/api/) and run again"
        )
    return path


def _check_node() -> tuple[str, str]:
    node = shutil.which("node")
    npm = shutil.which("npm")
    if node is None or npm is None:
        missing = "node" if node is None else "npm"
        raise PrismSetupError(
            f"{missing} not found on PATH: install Node.js {MIN_NODE_MAJOR} or "
            "later with npm to run the contract tests"
        )
    output = subprocess.run(
        [node, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    match = re.fullmatch(r"v(\d+)\..*", output)
    if match is None or int(match.group(1)) < MIN_NODE_MAJOR:
        raise PrismSetupError(
            f"Node.js {output or '(unknown version)'} is too old for Prism "
            f"{PRISM_VERSION}: install Node.js {MIN_NODE_MAJOR} or later"
        )
    return node, npm


def _installed_version(tools_dir: Path) -> str | None:
    manifest = tools_dir / "node_modules" / PRISM_PACKAGE / "package.json"
    try:
        version = json.loads(manifest.read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return version if isinstance(version, str) else None


def _prism_executable(tools_dir: Path) -> Path:
    return tools_dir / "node_modules" / ".bin" / "prism"


def _run_npm_install(npm: str, target: Path) -> None:
    manifest = {
        "private": True,
        "dependencies": {PRISM_PACKAGE: PRISM_VERSION},
        "overrides": PRISM_OVERRIDES,
    }
    target.mkdir(parents=True)
    (target / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
    env = dict(os.environ)
    env.update(
        npm_config_update_notifier="false",
        npm_config_fund="false",
        npm_config_audit="false",
        # Prism depends on @scarf/scarf, whose install script reports downloads.
        # --ignore-scripts keeps it from running and this variable disables it.
        SCARF_ANALYTICS="false",
    )
    command = [npm, "install", "--no-audit", "--no-fund", "--ignore-scripts"]
    try:
        completed = subprocess.run(
            command,
            cwd=target,
            env=env,
            capture_output=True,
            text=True,
            timeout=NPM_INSTALL_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise PrismSetupError(
            f"npm install {PRISM_PACKAGE}@{PRISM_VERSION} timed out after "
            f"{NPM_INSTALL_TIMEOUT_S:.0f} s: check access to the npm registry"
        ) from error
    if completed.returncode != 0:
        raise PrismSetupError(
            f"npm install {PRISM_PACKAGE}@{PRISM_VERSION} failed with exit code "
            f"{completed.returncode}: {_npm_error_summary(completed.stderr)}"
        )


def _npm_error_summary(stderr: str) -> str:
    """Return npm's error code and first error message on one line."""
    code = None
    message = None
    for line in stderr.splitlines():
        if not line.startswith("npm error "):
            continue
        detail = line.removeprefix("npm error ").strip()
        if detail.startswith("code "):
            code = code or detail.removeprefix("code ")
        elif message is None and not detail.startswith(
            ("syscall ", "errno ", "at ", "A complete log of this run")
        ):
            message = detail
    if message is None:
        return _last_line(stderr)
    return f"{code}: {message}" if code else message


def install_prism(tools_dir: Path = TOOLS_DIR) -> PrismInstall:
    """Install the pinned Prism into tools_dir unless it is there already.

    npm installs into a sibling temporary directory that is renamed into place,
    and an exclusive lock file serialises concurrent callers, so two pytest
    processes never see a half-written install.
    """
    _, npm = _check_node()
    tools_dir.parent.mkdir(parents=True, exist_ok=True)
    lock_path = tools_dir.parent / f"{tools_dir.name}.lock"
    # NOTE: fcntl locks are POSIX-only, so this module does not run on Windows.
    with open(lock_path, "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        if _installed_version(tools_dir) == PRISM_VERSION:
            return PrismInstall(_prism_executable(tools_dir), install_seconds=None)

        staging_dir = tools_dir.parent / f"{tools_dir.name}.tmp-{os.getpid()}"
        shutil.rmtree(staging_dir, ignore_errors=True)
        started = time.monotonic()
        try:
            _run_npm_install(npm, staging_dir)
            if _installed_version(staging_dir) != PRISM_VERSION:
                raise PrismSetupError(
                    f"npm install finished but {PRISM_PACKAGE}@{PRISM_VERSION} "
                    f"is missing from {staging_dir}"
                )
            shutil.rmtree(tools_dir, ignore_errors=True)
            os.rename(staging_dir, tools_dir)
        finally:
            shutil.rmtree(staging_dir, ignore_errors=True)
        elapsed = time.monotonic() - started
    return PrismInstall(_prism_executable(tools_dir), install_seconds=elapsed)


# --- The patched document ---------------------------------------------------


def patch_spec(document: dict[str, Any], ws_url: str) -> dict[str, Any]:
    """Return a copy of the document adapted for tests against Prism.

    Two changes: the key-only operations (GET /accounts, /user, /memberships)
    also accept an API token, as the live API does, and the live-tail reply's
    `wsUrl` example becomes ws_url instead of http://example.com.
    """
    patched = copy.deepcopy(document)
    paths = patched.get("paths", {})

    for path in KEY_ONLY_PATHS:
        try:
            security = paths[path]["get"]["security"]
        except KeyError as error:
            raise PrismSetupError(
                f"OpenAPI document has no security list for GET {path}: "
                "update patch_spec() to match the document"
            ) from error
        if {"api_token": []} not in security:
            security.append({"api_token": []})

    try:
        media_type = paths[LIVE_TAIL_PATH]["post"]["responses"]["200"]["content"][
            "application/json"
        ]
        result_schema = media_type["schema"]["properties"]["result"]
        ws_url_schema = result_schema["properties"]["wsUrl"]
    except KeyError as error:
        raise PrismSetupError(
            f"OpenAPI document has no result.wsUrl in the 200 reply of POST "
            f"{LIVE_TAIL_PATH}: update patch_spec() to match the document"
        ) from error
    # Prism prefers a whole-reply example to the property's own example, so a
    # whole-reply example would bring back a wsUrl that is not on loopback.
    if "example" in media_type or "examples" in media_type:
        raise PrismSetupError(
            f"the 200 reply of POST {LIVE_TAIL_PATH} now has its own example: "
            "update patch_spec() to point its wsUrl at loopback"
        )
    ws_url_schema["example"] = ws_url
    return patched


def write_patched_spec(source: Path, destination: Path, ws_url: str) -> None:
    document = json.loads(source.read_text(encoding="utf-8"))
    patched = patch_spec(document, ws_url)
    destination.write_text(json.dumps(patched, indent=1), encoding="utf-8")


# --- Reading Prism's log ----------------------------------------------------

# Prism 5 writes one line per message, for example:
#   [3:54:34 PM] › [HTTP SERVER] post /accounts/... ℹ  info      Request received
#   [3:54:34 PM] ›     [NEGOTIATOR] ⬤  debug     < 	authorization: Bearer tok
#   [3:54:34 PM] ›     [VALIDATOR] ✖  error     Violation: request.body ...
_RECEIVED = re.compile(r"\[HTTP SERVER\] (\w+) (\S+) \S+\s+info\s+Request received$")
_TERMINATED = re.compile(
    r"\[HTTP SERVER\] \w+ \S+ \S+\s+error\s+Request terminated with error: (.*)$"
)
_REQUEST_HEADER = re.compile(r"\[NEGOTIATOR\] \S+\s+debug\s+< \t([^:]+): (.*)$")
_REQUEST_BODY = re.compile(r"\[NEGOTIATOR\] \S+\s+debug\s+< Body: (.*)$")
_RESPONSE_STATUS = re.compile(r"\[NEGOTIATOR\] \S+\s+debug\s+> Status: (\d+)$")
_RESPONSE_BODY = re.compile(r"\[NEGOTIATOR\] \S+\s+debug\s+> Body: (.*)$")
_VALIDATOR = re.compile(r"\[VALIDATOR\] \S+\s+(error|warning)\s+(.*)$")


@dataclass
class LoggedRequest:
    """One request as Prism logged it, with the validator's complaints."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    status: int | None = None
    response_body: str | None = None
    # Validator errors and warnings about the request, such as an invalid body
    # or a missing security scheme.
    request_violations: list[str] = field(default_factory=list)
    # Validator errors and warnings about the mocked reply itself, which point
    # at the document rather than at the client.
    response_violations: list[str] = field(default_factory=list)
    # Prism's error when it replied without an operation's reply (422, 404).
    terminated_error: str | None = None

    def json_body(self) -> Any:
        return None if self.body is None else json.loads(self.body)


def parse_log(text: str) -> list[LoggedRequest]:
    """Split Prism's debug log into requests.

    NOTE: lines are assigned to the most recent "Request received", which is
    right only while requests do not overlap. Send requests one at a time.
    """
    requests: list[LoggedRequest] = []
    current: LoggedRequest | None = None
    for line in text.splitlines():
        if match := _RECEIVED.search(line):
            current = LoggedRequest(method=match.group(1).upper(), path=match.group(2))
            requests.append(current)
            continue
        if current is None:
            continue
        if match := _REQUEST_HEADER.search(line):
            current.headers[match.group(1).lower()] = match.group(2)
        elif match := _REQUEST_BODY.search(line):
            current.body = match.group(1)
        elif match := _RESPONSE_STATUS.search(line):
            current.status = int(match.group(1))
        elif match := _RESPONSE_BODY.search(line):
            current.response_body = match.group(1)
        elif match := _TERMINATED.search(line):
            current.terminated_error = match.group(1)
        elif match := _VALIDATOR.search(line):
            message = match.group(2)
            if message.startswith("Violation: response"):
                current.response_violations.append(message)
            else:
                current.request_violations.append(message)
    return requests


# --- The running server -----------------------------------------------------


@dataclass
class PrismServer:
    """A running `prism mock` process and the files it works from."""

    process: subprocess.Popen[bytes]
    port: int
    spec_path: Path
    log_path: Path
    ws_url: str
    _log_file: IO[bytes]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spec(self) -> dict[str, Any]:
        """Return the patched document that Prism serves."""
        document: dict[str, Any] = json.loads(
            self.spec_path.read_text(encoding="utf-8")
        )
        return document

    def log_text(self, since: int = 0) -> str:
        """Return Prism's stdout and stderr from byte offset `since` onward."""
        with open(self.log_path, "rb") as log:
            log.seek(since)
            return log.read().decode("utf-8", errors="replace")

    def log_mark(self) -> int:
        """Return the log's current size, for log_text() and requests()."""
        return self.log_path.stat().st_size

    def sync_log(self, timeout: float = 5.0) -> None:
        """Wait until Prism has logged every request that it has replied to.

        Sends a request to a path that no operation matches and waits for
        Prism's 404 line about it. Prism logs in arrival order, so the lines of
        earlier requests are complete by then.
        """
        sync_path = f"{LOG_SYNC_PREFIX}{uuid.uuid4().hex}"
        mark = self.log_mark()
        with httpx.Client(base_url=self.base_url, trust_env=False) as client:
            client.get(sync_path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for request in parse_log(self.log_text(mark)):
                if request.path == sync_path and request.terminated_error:
                    return
            time.sleep(0.02)
        raise TimeoutError(f"Prism did not log {sync_path} within {timeout} s")

    def requests(self, since: int = 0) -> list[LoggedRequest]:
        """Return the requests logged after byte offset `since`.

        Call sync_log() first so that the last request's lines are complete.
        Log-sync requests are left out.
        """
        return [
            request
            for request in parse_log(self.log_text(since))
            if not request.path.startswith(LOG_SYNC_PREFIX)
        ]

    def stop(self) -> None:
        """Stop Prism's process group, killing it if SIGTERM is not enough.

        A process that has already exited and been reaped is left alone,
        because its id, and so its group id, may belong to another process now.
        """
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log_file.close()


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_listening(server: PrismServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise PrismSetupError(
                f"Prism exited with code {server.process.returncode} during "
                f"start-up: {_last_line(server.log_text())}"
            )
        if "Prism is listening on" in server.log_text():
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", server.port), 1.0).close()
                return
        time.sleep(0.05)
    raise PrismSetupError(
        f"Prism did not listen on {server.base_url} within {timeout:.0f} s: "
        f"{_last_line(server.log_text())}"
    )


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def start_prism(
    executable: Path,
    source_spec: Path,
    work_dir: Path,
    *,
    startup_timeout: float = STARTUP_TIMEOUT_S,
    attempts: int = 3,
) -> PrismServer:
    """Write a patched copy of source_spec to work_dir and serve it on loopback.

    Prism runs in static mode, so it replies with the document's examples. The
    live-tail `wsUrl` example points at a path on Prism's own port that no
    operation matches, so a client that opens it gets a 404 that shows in the
    log. A start that fails, for example because another process took the
    port in the meantime, is retried on a new port up to `attempts` times.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    last_error: PrismSetupError | None = None
    for attempt in range(1, attempts + 1):
        port = _free_loopback_port()
        ws_url = f"ws://127.0.0.1:{port}{LIVE_TAIL_WEBSOCKET_PATH}"
        spec_path = work_dir / "cloudflare-openapi-patched.json"
        write_patched_spec(source_spec, spec_path, ws_url)
        log_path = work_dir / f"prism-{attempt}.log"
        # PrismServer.stop() closes the log file.
        log_file = open(log_path, "wb")
        env = dict(os.environ)
        env.update(SCARF_ANALYTICS="false", FORCE_COLOR="0", NO_COLOR="1")
        process = subprocess.Popen(
            [
                str(executable),
                "mock",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--verboseLevel",
                "debug",
                str(spec_path),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        server = PrismServer(process, port, spec_path, log_path, ws_url, log_file)
        try:
            _wait_until_listening(server, startup_timeout)
        except PrismSetupError as error:
            server.stop()
            last_error = error
            continue
        return server
    assert last_error is not None
    raise last_error


@contextlib.contextmanager
def running_prism(
    work_dir: Path, source_spec: Path | None = None
) -> Iterator[PrismServer]:
    """Install Prism if needed, serve the patched document and stop at exit."""
    spec = find_spec() if source_spec is None else find_spec(source_spec)
    install = install_prism()
    server = start_prism(install.executable, spec, work_dir)
    try:
        yield server
    finally:
        server.stop()
