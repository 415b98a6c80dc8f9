"""Read a Worker's name and account id from its wrangler configuration.

wrangler reads ``wrangler.json``, ``wrangler.jsonc`` or ``wrangler.toml``
(``--config`` names another). We read the same files, only for ``name`` and
``account_id``, so that running cf-livetail inside a Worker's project starts
on that Worker, and ``--env`` picks one of its environments.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path

from tui.errors import UserError

CONFIG_NAMES = ("wrangler.json", "wrangler.jsonc", "wrangler.toml")
# Max bytes read from a wrangler file. A larger file is most likely the wrong
# path, not a Worker's configuration.
MAX_CONFIG_BYTES = 1024 * 1024


@dataclass(frozen=True)
class WranglerConfig:
    path: Path
    name: str | None
    account_id: str | None


def find_config(directory: Path) -> Path | None:
    """Return the first wrangler configuration file in ``directory``, if any."""
    for name in CONFIG_NAMES:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def find_config_upwards(directory: Path) -> Path | None:
    """Return the wrangler file that wrangler itself would use from ``directory``.

    Like wrangler's ``findWranglerConfig`` (cloudflare/workers-sdk, file
    packages/workers-utils/src/config/config-helpers.ts), each name is
    searched for in ``directory`` and then in each parent, in CONFIG_NAMES
    order: a ``wrangler.json`` in a parent wins over a ``wrangler.toml`` here.
    """
    start = directory.resolve()
    for name in CONFIG_NAMES:
        for folder in (start, *start.parents):
            candidate = folder / name
            if candidate.is_file():
                return candidate
    return None


def strip_jsonc(text: str) -> str:
    """Remove // and /* */ comments and trailing commas, keeping line numbers.

    Comment characters inside strings are kept. Removed comments become
    spaces (newlines stay), so JSON error positions still point at the file.
    """
    out: list[str] = []
    i, length = 0, len(text)
    in_string = False
    while i < length:
        ch = text[i]
        if in_string:
            out.append(ch)
            if ch == "\\" and i + 1 < length:
                out.append(text[i + 1])
                i += 2
                continue
            if ch == '"':
                in_string = False
            i += 1
            continue
        if ch == '"':
            in_string = True
            out.append(ch)
            i += 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            end = length if end == -1 else end
            out.append(" " * (end - i))
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end == -1:
                raise ValueError("unterminated /* comment", i)
            block = text[i : end + 2]
            out.append("".join("\n" if c == "\n" else " " for c in block))
            i = end + 2
        else:
            out.append(ch)
            i += 1
    return _drop_trailing_commas("".join(out))


def _drop_trailing_commas(text: str) -> str:
    chars = list(text)
    in_string = False
    i = 0
    while i < len(chars):
        ch = chars[i]
        if in_string:
            if ch == "\\":
                i += 2
                continue
            if ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == ",":
            j = i + 1
            while j < len(chars) and chars[j] in " \t\r\n":
                j += 1
            if j < len(chars) and chars[j] in "]}":
                chars[i] = " "
        i += 1
    return "".join(chars)


def _line_of(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def _toml_error(path: Path, message: str, text: str) -> str:
    """Put the line that tomllib names in its message next to the path."""
    end = " (at end of document)"
    if message.endswith(end):
        last_line = _line_of(text, len(text.rstrip("\n")))
        reason = message[: -len(end)]
        return f"{path}, line {last_line}: invalid TOML: {reason} at the end"
    found = _TOML_POSITION.search(message)
    if found is None:
        return f"{path}: invalid TOML: {message}"
    line, column = found.groups()
    reason = message[: found.start()]
    return f"{path}, line {line}, column {column}: invalid TOML: {reason}"


def _file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((kind for test, kind in kinds if test(mode)), "a special file")


def read_config_text(path: Path) -> str:
    """Read a wrangler file as UTF-8, or raise UserError.

    Only regular files of at most MAX_CONFIG_BYTES are read, with symbolic
    links followed, so that a path to a device or a named pipe fails at once
    instead of filling memory or blocking forever.
    """
    try:
        # O_NONBLOCK, so that opening a named pipe does not wait for a writer.
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
        descriptor = os.open(path, flags)
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            location = (
                f"{path} (a link to {path.resolve()})" if path.is_symlink() else path
            )
            raise UserError(
                f"cannot read {location}: it is {_file_kind(mode)}, not a regular "
                "file; give the path of a wrangler.toml, wrangler.json or "
                "wrangler.jsonc file"
            )
        with open(descriptor, "rb", closefd=False) as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    finally:
        os.close(descriptor)
    if len(data) > MAX_CONFIG_BYTES:
        raise UserError(
            f"cannot read {path}: it is larger than {MAX_CONFIG_BYTES:,} bytes, "
            "too large for a wrangler file; check the path"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"cannot read {path}: not UTF-8 text") from None
    # The same newlines as a file opened in text mode.
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_config(path: Path) -> dict:
    """Parse a wrangler file into a dict; errors name the file and line."""
    text = read_config_text(path)
    if path.suffix not in (".toml", ".json", ".jsonc"):
        raise UserError(
            f"{path}: unknown configuration format {path.suffix or '(no suffix)'}: "
            "give a .toml, .json or .jsonc file"
        )
    if path.suffix == ".toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise UserError(_toml_error(path, str(exc), text)) from None
    try:
        cleaned = strip_jsonc(text) if path.suffix == ".jsonc" else text
        data = json.loads(cleaned)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}, line {exc.lineno}: invalid JSON: {exc.msg}") from None
    except ValueError as exc:
        message, position = exc.args
        raise UserError(
            f"{path}, line {_line_of(text, position)}: invalid JSONC: {message}"
        ) from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object at the top level")
    return data


def resolve(path: Path, env_name: str | None = None) -> WranglerConfig:
    """Return the Worker name and account id the way wrangler resolves them.

    With an environment, ``[env.NAME]`` values override the top level, and a
    Worker without its own name in that environment is called ``name-NAME``.
    """
    data = parse_config(path)
    name = data.get("name")
    account_id = data.get("account_id")
    for key, value in (("name", name), ("account_id", account_id)):
        if value is not None and not isinstance(value, str):
            raise UserError(f"{path}: {key} must be a string, not {value!r}")
    if env_name is not None and not env_name.strip():
        raise UserError(
            "--env needs an environment name; leave it out for the top level"
        )
    if env_name:
        envs = data.get("env")
        section = envs.get(env_name) if isinstance(envs, dict) else None
        if section is not None and not isinstance(section, dict):
            raise UserError(
                f"{path}: environment {env_name!r} must be a table of settings, "
                f"not {section!r}"
            )
        if not isinstance(section, dict):
            names = sorted(envs) if isinstance(envs, dict) else []
            known = ", ".join(names) if names else "none"
            raise UserError(
                f"{path} has no environment {env_name!r} (environments in it: "
                f"{known}), or leave out --env for the top level"
            )
        if isinstance(section.get("name"), str):
            name = section["name"]
        elif isinstance(name, str):
            name = f"{name}-{env_name}"
        if isinstance(section.get("account_id"), str):
            account_id = section["account_id"]
    return WranglerConfig(
        path=path,
        name=name if isinstance(name, str) and name else None,
        account_id=account_id if isinstance(account_id, str) and account_id else None,
    )
