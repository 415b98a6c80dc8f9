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

_secrets: set[str] = set()
_lock = threading.Lock()
MASK = "[redacted]"


def register_secret(value: str | None) -> None:
    """Remember a secret value so that :func:`scrub` removes it."""
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)


def scrub(text: str) -> str:
    """Replace every registered secret in ``text`` with a mask."""
    if not _secrets:
        return text
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class ScrubbingFormatter(logging.Formatter):
    """A formatter whose output never contains a registered secret."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def setup_logging(debug: bool = False, path: Path | None = None) -> Path | None:
    """Log to a rotating file under the user log dir; return its path.

    Returns None when the file cannot be opened: the app then runs without a
    log rather than failing to start.
    """
    path = path or paths.log_file()
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    for handler in list(root.handlers):
        if getattr(handler, "_cf_livetail", False):
            root.removeHandler(handler)
            handler.close()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
        os.chmod(path, 0o600)
    except OSError:
        return None
    handler._cf_livetail = True  # type: ignore[attr-defined]
    handler.setFormatter(
        ScrubbingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root.addHandler(handler)
    # httpx logs every request at INFO; keep those out unless debugging.
    logging.getLogger("httpx").setLevel(logging.DEBUG if debug else logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    return path
