"""Settings in a TOML file under the user config dir. Never holds a secret.

A file that cannot be parsed is moved aside (the app says where) and the app
starts with defaults; a value of the wrong type is ignored with a notice.
"""

from __future__ import annotations

import json
import logging
import os
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from tui import paths
from tui.engine import DEFAULT_INTERVAL, check_interval

log = logging.getLogger(__name__)


@dataclass
class Settings:
    interval: float = DEFAULT_INTERVAL
    last_account_id: str | None = None
    last_account_name: str | None = None
    last_script: str | None = None
    ca_bundle: str | None = None
    path: Path | None = field(default=None, compare=False)
    notices: list[str] = field(default_factory=list, compare=False)

    def to_toml(self) -> str:
        lines = ["# cf-livetail settings; credentials are never stored here.\n"]
        lines.append(f"interval = {self.interval:g}\n")
        for key in ("last_account_id", "last_account_name", "last_script", "ca_bundle"):
            value = getattr(self, key)
            if value:
                # json.dumps gives a quoted string that is also valid TOML.
                lines.append(f"{key} = {json.dumps(value)}\n")
        return "".join(lines)


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


def _move_aside(path: Path) -> Path | None:
    moved = path.with_name(f"{path.name}.bad-{time.strftime('%Y%m%d-%H%M%S')}")
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
        tmp.write_text(settings.to_toml(), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        message = f"could not save settings to {path}: {exc.strerror}"
        log.warning("%s", message)
        return message
    return None
