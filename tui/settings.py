"""Settings in a TOML file under the user config dir. It never contains a secret.

A file that cannot be parsed is moved aside (the app says where) and the app
starts with defaults; a value of the wrong type is ignored with a notice.
"""

from __future__ import annotations

import json
import logging
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from tui import paths
from tui.engine import DEFAULT_INTERVAL, check_interval

log = logging.getLogger(__name__)

THEMES = ("dark", "light")


@dataclass
class Settings:
    interval: float = DEFAULT_INTERVAL
    last_account_id: str | None = None
    last_account_name: str | None = None
    last_script: str | None = None
    ca_bundle: str | None = None
    theme: str = "dark"
    bell: bool = False
    # Binding id -> key, for example {"beat_now": "n"}; see tui/keys.py.
    keys: dict[str, str] = field(default_factory=dict)
    # Sessions open when the app last quit, offered for reopening at start.
    open_sessions: list[OpenSession] = field(default_factory=list)
    path: Path | None = field(default=None, compare=False)
    notices: list[str] = field(default_factory=list, compare=False)

    def to_toml(self) -> str:
        # json.dumps gives quoted strings that are also valid TOML strings.
        lines = ["# cf-livetail settings; credentials are never stored here.\n"]
        lines.append(f"interval = {self.interval:g}\n")
        for key in ("last_account_id", "last_account_name", "last_script", "ca_bundle"):
            value = getattr(self, key)
            if value:
                lines.append(f"{key} = {json.dumps(value)}\n")
        lines.append(f"theme = {json.dumps(self.theme)}\n")
        lines.append(f"bell = {'true' if self.bell else 'false'}\n")
        if self.keys:
            lines.append("\n[keys]\n")
            for binding_id, key in sorted(self.keys.items()):
                lines.append(f"{json.dumps(binding_id)} = {json.dumps(key)}\n")
        for session in self.open_sessions:
            lines.append("\n[[open_sessions]]\n")
            lines.append(f"session_id = {session.session_id}\n")
            lines.append(f"account_id = {json.dumps(session.account_id)}\n")
            lines.append(f"account_name = {json.dumps(session.account_name)}\n")
            lines.append(f"script = {json.dumps(session.script)}\n")
            lines.append(f"interval = {session.interval:g}\n")
        return "".join(lines)


@dataclass(frozen=True)
class OpenSession:
    """A session that was open when the app quit."""

    session_id: int
    account_id: str
    account_name: str
    script: str
    interval: float


def load(path: Path | None = None) -> Settings:
    """Read settings; a missing file gives defaults, a broken one is moved aside."""
    path = path or paths.settings_file()
    settings = Settings(path=path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return settings
    except OSError as exc:
        settings.notices.append(
            f"cannot read settings file {path} ({exc.strerror}); using defaults"
        )
        return settings
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        moved = _move_aside(path)
        where = f"moved it to {moved}" if moved else "could not move it aside"
        settings.notices.append(
            f"settings file {path} is not valid TOML ({exc}); {where} and started "
            "with defaults"
        )
        log.warning("%s", settings.notices[-1])
        return settings
    _apply(settings, data, path)
    return settings


def _apply(settings: Settings, data: dict, path: Path) -> None:
    interval = data.get("interval")
    if interval is not None:
        try:
            if isinstance(interval, bool) or not isinstance(interval, int | float):
                raise ValueError(f"interval must be a number, not {interval!r}")
            settings.interval = check_interval(float(interval))
        except ValueError as exc:
            settings.notices.append(f"{path}: {exc}; using {settings.interval:g} s")
    for key in ("last_account_id", "last_account_name", "last_script", "ca_bundle"):
        value = data.get(key)
        if value is None:
            continue
        if isinstance(value, str):
            setattr(settings, key, value)
        else:
            settings.notices.append(f"{path}: {key} must be a string; ignored")
    theme = data.get("theme")
    if theme is not None:
        if theme in THEMES:
            settings.theme = theme
        else:
            settings.notices.append(
                f"{path}: theme must be one of {', '.join(THEMES)}; using dark"
            )
    bell = data.get("bell")
    if bell is not None:
        if isinstance(bell, bool):
            settings.bell = bell
        else:
            settings.notices.append(f"{path}: bell must be true or false; ignored")
    keys = data.get("keys")
    if keys is not None:
        if isinstance(keys, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in keys.items()
        ):
            settings.keys = dict(keys)
        else:
            settings.notices.append(
                f"{path}: [keys] must map binding ids to key names; ignored"
            )
    settings.open_sessions = _open_sessions(data.get("open_sessions"), path, settings)


def _open_sessions(value: object, path: Path, settings: Settings) -> list[OpenSession]:
    if value is None:
        return []
    sessions: list[OpenSession] = []
    entries = value if isinstance(value, list) else [value]
    for entry in entries:
        try:
            if not isinstance(entry, dict):
                raise TypeError
            interval = entry["interval"]
            if isinstance(interval, bool) or not isinstance(interval, int | float):
                raise TypeError
            sessions.append(
                OpenSession(
                    session_id=int(entry["session_id"]),
                    account_id=str(entry["account_id"]),
                    account_name=str(entry["account_name"]),
                    script=str(entry["script"]),
                    interval=check_interval(float(interval)),
                )
            )
        except (KeyError, TypeError, ValueError):
            settings.notices.append(
                f"{path}: an [[open_sessions]] entry is incomplete or invalid; "
                "it will not be offered for reopening"
            )
    return sessions


def _move_aside(path: Path) -> Path | None:
    moved = paths.aside_name(path, "bad")
    try:
        path.replace(moved)
    except OSError:
        log.exception("could not move %s aside", path)
        return None
    return moved


def save(settings: Settings) -> str | None:
    """Write settings atomically; return an error line instead of raising."""
    path = settings.path or paths.settings_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        # Private like the rest of the app's files: it names accounts.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(settings.to_toml())
        os.replace(tmp, path)
    except OSError as exc:
        message = f"could not save settings to {path}: {exc.strerror}"
        log.warning("%s", message)
        return message
    return None
