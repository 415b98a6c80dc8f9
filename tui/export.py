"""Export a session's history to CSV or JSON Lines."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from tui.errors import UserError
from tui.history import Beat, HistoryStore, iter_session_beats
from tui.logsetup import scrub
from tui.text import iso_utc

FIELDS = [
    "time",
    "account_id",
    "account_name",
    "script",
    "ok",
    "http_status",
    "latency_ms",
    "outcome",
    "message",
    "cf_ray",
    "gap_s",
]
FORMATS = ("csv", "jsonl")


def format_for(path: Path) -> str:
    """Pick the format from the file name: .csv, else .jsonl/.ndjson/.json."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    raise UserError(
        f"cannot tell the format of {path.name}: end the name with .csv or .jsonl"
    )


def export_history(
    store: HistoryStore,
    session_id: int,
    path: Path,
    account_id: str,
    account_name: str,
    script: str,
) -> int:
    """Write every beat of the session to ``path``; return the rows written.

    The file is written beside its final name and renamed into place, so a
    failure never leaves half a file under the name the user chose. A
    store with a file is read through a connection of its own, so this may
    run in a worker thread while the event loop goes on storing beats.
    """
    path = path.expanduser()
    check_target(path)
    fmt = format_for(path)
    tmp = path.with_name(f".{path.name}.tmp")
    rows = 0
    try:
        # Private like the history it copies: it names accounts and Workers.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(fd, "w", encoding="utf-8", newline="") as out:
            writer = csv.DictWriter(out, FIELDS) if fmt == "csv" else None
            if writer is not None:
                writer.writeheader()
            for beat in _session_beats(store, session_id):
                record = {
                    "time": iso_utc(beat.time),
                    "account_id": account_id,
                    "account_name": account_name,
                    "script": script,
                    "ok": beat.ok,
                    "http_status": beat.http_status,
                    "latency_ms": beat.latency_ms,
                    "outcome": beat.outcome,
                    "message": scrub(beat.message),
                    "cf_ray": beat.ray,
                    "gap_s": beat.gap_s,
                }
                if writer is not None:
                    writer.writerow(record)
                else:
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
                rows += 1
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UserError(f"could not write {path}: {exc.strerror}") from None
    except sqlite3.Error as exc:
        tmp.unlink(missing_ok=True)
        raise UserError(f"could not read the history to export: {exc}") from None
    return rows


def check_target(path: Path) -> None:
    """Raise UserError if ``path`` cannot be the name of a new export."""
    if path.is_dir():
        raise UserError(f"{path} is a directory: give a file name")
    if not path.parent.is_dir():
        raise UserError(f"folder {path.parent} does not exist")
    if path.exists() and not os.access(path, os.W_OK):
        raise UserError(f"{path} is read-only: give another file name")


def _session_beats(store: HistoryStore, session_id: int) -> Iterator[Beat]:
    """Yield the session's beats oldest first, read-only from the file if any."""
    if store.path is None:
        yield from store.iter_beats(session_id)
        return
    uri = store.path.resolve().as_uri() + "?mode=ro"
    db = sqlite3.connect(uri, uri=True)
    try:
        yield from iter_session_beats(db, session_id)
    finally:
        db.close()
