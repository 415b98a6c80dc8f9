"""Find the Cloudflare credential to use, and keep its value out of sight.

Sources are tried in this order:

1. ``--api-token-file PATH`` (a secret is never accepted as a plain flag value,
   because ``ps`` shows every process's argv);
2. ``CLOUDFLARE_API_TOKEN``, or ``CLOUDFLARE_API_KEY`` with ``CLOUDFLARE_EMAIL``;
3. the credentials file this app manages (mode 0600, separate from settings);
4. the OAuth token that ``wrangler login`` stores, read-only.

Empty variables count as unset.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from tui import paths
from tui.errors import UserError

API_TOKEN = "api_token"
GLOBAL_KEY = "global_key"
OAUTH = "oauth"

# A token is about 40 characters; anything this large is the wrong file.
MAX_TOKEN_FILE = 64 * 1024

KIND_LABELS = {
    API_TOKEN: "API token",
    GLOBAL_KEY: "global API key",
    OAUTH: "wrangler OAuth token",
}

NO_CREDENTIALS_HELP = (
    "no Cloudflare credentials found: set CLOUDFLARE_API_TOKEN (create a token at "
    "dash.cloudflare.com > My Profile > API Tokens with the "
    '"Workers Observability Write" permission), or CLOUDFLARE_API_KEY with '
    "CLOUDFLARE_EMAIL, or pass --api-token-file PATH, or run `cf-livetail --demo` "
    "to try the app without an account"
)


def is_header_safe(value: str) -> bool:
    """Return whether ``value`` is one word of visible ASCII, safe in a header.

    API tokens, global keys and OAuth tokens all have this form. Any other
    value is a copy-paste mistake, and httpx would reject it with the value
    quoted in its error message.
    """
    return all("!" <= ch <= "~" for ch in value)


@dataclass(frozen=True)
class Credential:
    """A credential and where it came from. ``repr`` never shows the secret.

    Raises UserError, naming the source but never the value, when the secret
    or email contains whitespace, control or non-ASCII characters.
    """

    kind: str
    source: str
    secret: str = field(repr=False)
    email: str | None = None

    def __post_init__(self) -> None:
        if not is_header_safe(self.secret):
            raise UserError(
                f"the {self.description} contains a space, a line break, a control "
                "character or a non-ASCII character; copy the value again without "
                "extra characters"
            )
        if self.email is not None and not is_header_safe(self.email):
            raise UserError(
                f"the email address for the {self.description} contains a space, "
                "a control character or a non-ASCII character"
            )

    @classmethod
    def api_token(cls, token: str, source: str) -> Credential:
        return cls(API_TOKEN, source, token.strip())

    @classmethod
    def global_key(cls, email: str, key: str, source: str) -> Credential:
        return cls(GLOBAL_KEY, source, key.strip(), email.strip())

    @classmethod
    def oauth(cls, token: str, source: str) -> Credential:
        return cls(OAUTH, source, token.strip())

    @property
    def description(self) -> str:
        """Kind and source, for example "API token from CLOUDFLARE_API_TOKEN"."""
        return f"{KIND_LABELS[self.kind]} from {self.source}"

    def headers(self) -> dict[str, str]:
        """Return the auth headers: Bearer for tokens, X-Auth-* for a global key."""
        if not self.secret:
            raise UserError(f"the {self.description} is empty")
        if self.kind == GLOBAL_KEY:
            if not self.email:
                raise UserError(f"the {self.description} has no email address")
            return {"X-Auth-Email": self.email, "X-Auth-Key": self.secret}
        return {"Authorization": f"Bearer {self.secret}"}

    def secrets(self) -> list[str]:
        """Return the secret values, for scrubbing them out of logs."""
        return [self.secret] if self.secret else []


def _env(environ: dict[str, str] | os._Environ[str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    return value or None


def read_token_file(path: Path, source: str) -> str:
    """Read a token from a file holding nothing else, or raise UserError."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise UserError(
                f"{source}: {path} is not a regular file; put the token in a file"
            )
        if info.st_size > MAX_TOKEN_FILE:
            raise UserError(
                f"{source}: {path} is {info.st_size} bytes, too large for a token "
                f"file (at most {MAX_TOKEN_FILE}); check the path"
            )
        with open(path, encoding="utf-8") as handle:
            text = handle.read(MAX_TOKEN_FILE + 1)
    except FileNotFoundError:
        raise UserError(f"{source}: file {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise UserError(f"{source}: cannot read {path}: {reason}") from None
    # Some Windows editors start a UTF-8 file with a byte order mark.
    token = text.removeprefix("\ufeff").strip()
    if not token:
        raise UserError(f"{source}: {path} is empty; put the API token in it")
    if any(ch.isspace() for ch in token) or not token.isprintable():
        raise UserError(f"{source}: {path} must contain only the token, on one line")
    return token


def check_private(path: Path) -> None:
    """Raise UserError when a secrets file can be read by other users."""
    if sys.platform == "win32":
        return
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UserError(
            f"{path} can be read by other users (mode {stat.S_IMODE(mode):o}); "
            f"run `chmod 600 {path}` and start again"
        )


def load_credentials_file(path: Path) -> Credential | None:
    """Read the app's own credentials file, or return None when it is absent."""
    try:
        check_private(path)
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UserError(
            f"cannot read credentials file {path}: {exc.strerror}"
        ) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UserError(
            f"credentials file {path} is not valid TOML ({exc}); fix it or delete it "
            "and save the token again"
        ) from None
    source = f"credentials file {path}"
    token = data.get("api_token")
    if isinstance(token, str) and token.strip():
        return Credential.api_token(token, source)
    key, email = _text(data.get("api_key")), _text(data.get("email"))
    if key and email:
        return Credential.global_key(email, key, source)
    if key or email:
        present, missing = ("api_key", "email") if key else ("email", "api_key")
        raise UserError(
            f"credentials file {path} has {present} but no {missing}; a global API "
            "key needs both, or put api_token in the file instead"
        )
    return None


def _text(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return value.strip() or None


def save_token(token: str, path: Path | None = None) -> Path:
    """Write a token into the app's credentials file, created with mode 0600."""
    token = token.strip()
    if not token or not is_header_safe(token):
        raise UserError(
            "the token must be one word of ASCII letters, digits and punctuation, "
            "with no spaces or line breaks"
        )
    path = path or paths.credentials_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        # json.dumps gives a quoted string that is also a valid TOML basic string.
        os.write(fd, f"api_token = {json.dumps(token)}\n".encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return path


def wrangler_config_paths(
    home: Path | None = None,
    environ: dict[str, str] | os._Environ[str] | None = None,
) -> list[Path]:
    """Return where ``wrangler login`` may have stored its OAuth token."""
    home = home or Path.home()
    environ = os.environ if environ is None else environ
    candidates = [home / ".wrangler" / "config" / "default.toml"]
    if sys.platform == "darwin":
        candidates.append(
            home / "Library" / "Preferences" / ".wrangler" / "config" / "default.toml"
        )
    elif sys.platform == "win32":
        appdata = environ.get("APPDATA")
        if appdata:
            candidates.append(Path(appdata) / ".wrangler" / "config" / "default.toml")
    else:
        xdg = environ.get("XDG_CONFIG_HOME", "").strip()
        base = Path(xdg) if xdg else home / ".config"
        candidates.append(base / ".wrangler" / "config" / "default.toml")
    return candidates


def _parse_expiry(value: object) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        when = value
    elif isinstance(value, str):
        try:
            when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when


def load_wrangler_token(
    candidates: list[Path], now: dt.datetime | None = None
) -> Credential | None:
    """Read wrangler's OAuth token; raise UserError when it has expired."""
    now = now or dt.datetime.now(dt.UTC)
    for path in candidates:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise UserError(
                f"cannot read wrangler's login file {path} ({exc}); run "
                "`wrangler login` again or set CLOUDFLARE_API_TOKEN"
            ) from None
        token = data.get("oauth_token")
        if not isinstance(token, str) or not token.strip():
            continue
        expiry = _parse_expiry(data.get("expiration_time"))
        if expiry is not None and expiry <= now:
            stamp = expiry.strftime("%Y-%m-%d %H:%M UTC")
            raise UserError(
                f"the wrangler OAuth token in {path} expired at {stamp}; run "
                "`wrangler login` again, or set CLOUDFLARE_API_TOKEN"
            )
        return Credential.oauth(token, f"wrangler login ({path})")
    return None


def resolve(
    token_file: Path | None = None,
    environ: dict[str, str] | os._Environ[str] | None = None,
    credentials_path: Path | None = None,
    wrangler_paths: list[Path] | None = None,
) -> Credential:
    """Find the credential to use, in the documented order, or raise UserError."""
    environ = os.environ if environ is None else environ
    if token_file is not None:
        source = f"--api-token-file {token_file}"
        return Credential.api_token(read_token_file(token_file, source), source)

    token = _env(environ, "CLOUDFLARE_API_TOKEN")
    if token:
        return Credential.api_token(token, "CLOUDFLARE_API_TOKEN")
    key = _env(environ, "CLOUDFLARE_API_KEY")
    email = _env(environ, "CLOUDFLARE_EMAIL")
    if key and email:
        return Credential.global_key(
            email, key, "CLOUDFLARE_API_KEY and CLOUDFLARE_EMAIL"
        )
    if key or email:
        missing = "CLOUDFLARE_EMAIL" if key else "CLOUDFLARE_API_KEY"
        present = "CLOUDFLARE_API_KEY" if key else "CLOUDFLARE_EMAIL"
        raise UserError(
            f"{present} is set but {missing} is missing; a global API key needs "
            "both, or set CLOUDFLARE_API_TOKEN instead"
        )

    stored = load_credentials_file(credentials_path or paths.credentials_file())
    if stored is not None:
        return stored

    if wrangler_paths is None:
        wrangler_paths = wrangler_config_paths(environ=environ)
    oauth = load_wrangler_token(wrangler_paths)
    if oauth is not None:
        return oauth
    raise UserError(NO_CREDENTIALS_HELP)
