"""The log file, and scrubbing of secrets from anything the app writes.

Secret values are registered once, when a credential is resolved; every log
record, history row and export passes through :func:`scrub` as a second line
of defence behind never formatting a secret in the first place.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import threading
from pathlib import Path

from tui import paths

_lock = threading.Lock()
# The registered secrets, longest first: masking a secret that is a prefix of
# another one first would leave the rest of the longer secret in the text.
# Replaced whole, never changed in place, so scrub() reads it without a lock.
_secrets: tuple[str, ...] = ()
MASK = "[redacted]"


def register_secret(value: str | None) -> None:
    """Remember a secret value so that :func:`scrub` removes it."""
    global _secrets
    if value and len(value) >= 4:
        with _lock:
            if value not in _secrets:
                _secrets = tuple(sorted((*_secrets, value), key=len, reverse=True))


def scrub(text: str) -> str:
    """Replace every registered secret in ``text`` with a mask."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log whose every file, rotated ones included, has mode 0600."""

    def _open(self):  # type: ignore[no-untyped-def]
        # NOTE: overrides a private hook of logging.FileHandler (checked in
        # CPython 3.11, 3.12 and 3.13) that opens the first file and every
        # file after a rotation.
        descriptor = os.open(
            self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600
        )
        os.chmod(self.baseFilename, 0o600)
        return open(descriptor, self.mode, encoding=self.encoding, errors=self.errors)


class ScrubbingFormatter(logging.Formatter):
    """A formatter whose output never contains a registered secret."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def setup_logging(debug: bool = False, path: Path | None = None) -> Path | None:
    """Log to a rotating file under the user log dir; return its path.

    Returns None when the file cannot be opened: the app then runs without a
    log rather than failing to start, and records are dropped.
    """
    path = path or paths.log_file()
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    for old in list(root.handlers):
        if getattr(old, "_cf_livetail", False):
            root.removeHandler(old)
            old.close()
    handler: logging.Handler
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = PrivateRotatingFileHandler(
            path, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
    except OSError:
        # Without any handler, logging's last-resort handler would print
        # warnings to stderr unscrubbed, and over the TUI's screen.
        handler = logging.NullHandler()
        handler._cf_livetail = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        return None
    handler._cf_livetail = True  # type: ignore[attr-defined]
    handler.setFormatter(
        ScrubbingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root.addHandler(handler)
    # httpx logs every request at INFO; keep those out unless debugging.
    logging.getLogger("httpx").setLevel(logging.DEBUG if debug else logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    # At debug level, websockets logs each handshake line, and the request
    # line carries the live-tail URL's secret path and query.
    logging.getLogger("websockets").setLevel(logging.INFO)
    return path
