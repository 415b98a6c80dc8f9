"""Locations of the app's files, from platformdirs.

On Linux these follow the XDG variables (``XDG_CONFIG_HOME``, ``XDG_DATA_HOME``,
``XDG_STATE_HOME``), which is also how the tests keep their files apart.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs

APP_NAME = "cf-livetail"


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def settings_file() -> Path:
    return config_dir() / "settings.toml"


def credentials_file() -> Path:
    return config_dir() / "credentials.toml"


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def history_db() -> Path:
    return data_dir() / "history.db"


def log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def log_file() -> Path:
    return log_dir() / "cf-livetail.log"


def aside_name(path: Path, tag: str) -> Path:
    """Return an unused name beside ``path`` for moving a bad file out of the way.

    The name carries ``tag`` and the time; a number is added when a file moved
    aside in the same second already has it.
    """
    import time

    base = f"{path.name}.{tag}-{time.strftime('%Y%m%d-%H%M%S')}"
    candidate = path.with_name(base)
    number = 2
    while candidate.exists() or Path(f"{candidate}-wal").exists():
        candidate = path.with_name(f"{base}-{number}")
        number += 1
    return candidate
