"""Fake user, accounts, memberships and Workers scripts that the demo API serves.

Every id, name and timestamp is derived from fixed values in this module, so the
data is the same on every run and on every machine. Ids are the first 32 hex
characters of a SHA-256 digest over ``DATA_SALT`` and the object's name, so
adding an account leaves the ids of the others unchanged.
"""

from __future__ import annotations

import hashlib
import random
import re
from datetime import UTC, datetime, timedelta
from typing import Any

# Credentials that the demo server accepts. They are public on purpose and work
# nowhere else. They have the shapes of real ones, because a real API token is
# 40 characters long and a real Global API Key is 37 hex characters.
DEMO_TOKEN = "cf-livetail-demo-token-not-a-real-secret"
DEMO_EMAIL = "demo@example.com"
DEMO_GLOBAL_KEY = "0000000000000000000000000000000000000"

DATA_SALT = "cf-livetail-demo-v1"

# Reference time for generated timestamps, fixed so that the data does not
# change with the date on which the demo runs.
DATA_EPOCH = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)

# Name of the one account without Workers scripts, which shows the app's empty state.
EMPTY_ACCOUNT_NAME = "Dev Sandbox"
# Workers whose heartbeats fail now and then, to show retries in the demo.
FLAKY_WORKERS = frozenset({"search-proxy"})

# Name and type of each demo account, in the order that GET /accounts returns.
ACCOUNT_SPECS: tuple[tuple[str, str], ...] = (
    ("Acme Robotics", "standard"),
    ("Personal", "standard"),
    ("Staging – Globex", "standard"),
    ("Globex Corporation", "enterprise"),
    ("Initech", "standard"),
    ("Umbrella Health", "enterprise"),
    ("Hooli", "enterprise"),
    ("Pied Piper", "standard"),
    ("Wayne Enterprises", "enterprise"),
    ("Soylent Foods", "standard"),
    ("Tyrell Labs", "standard"),
    ("Cyberdyne Systems", "standard"),
    ("Wonka Confectionery", "standard"),
    ("Vandelay Industries", "standard"),
    ("Dunder Mifflin Paper", "standard"),
    ("Oceanic Airlines", "enterprise"),
    ("Massive Dynamic", "enterprise"),
    ("Aperture Science", "standard"),
    ("Black Mesa Research", "standard"),
    ("Nakatomi Trading", "standard"),
    ("Sterling Cooper", "standard"),
    ("Bluth Company", "standard"),
    ("Prestige Worldwide", "standard"),
    ("Los Pollos Hermanos", "standard"),
    ("Staging – Acme Robotics", "standard"),
    ("Marketing Sites", "standard"),
    (EMPTY_ACCOUNT_NAME, "standard"),
)

# Worker names and the event handlers each one exports.
WORKER_HANDLERS: dict[str, tuple[str, ...]] = {
    "api-gateway": ("fetch",),
    "image-resizer": ("fetch",),
    "auth-edge": ("fetch",),
    "cron-cleanup": ("scheduled",),
    "geo-redirect": ("fetch",),
    "webhook-relay": ("fetch", "queue"),
    "rate-limiter": ("fetch",),
    "cache-warmer": ("scheduled",),
    "og-image": ("fetch",),
    "sitemap-builder": ("fetch", "scheduled"),
    "ab-test-router": ("fetch",),
    "stripe-webhooks": ("fetch",),
    "email-ingest": ("email",),
    "queue-consumer": ("queue",),
    "log-shipper": ("tail",),
    "feature-flags": ("fetch",),
    "ssr-frontend": ("fetch",),
    "search-proxy": ("fetch",),
    "url-shortener": ("fetch",),
    "maintenance-page": ("fetch",),
    "bot-filter": ("fetch",),
    "chat-rooms": ("fetch", "alarm"),
    "r2-uploader": ("fetch",),
    "nightly-report": ("scheduled",),
    "legacy_router": ("fetch",),
}

MIN_SCRIPTS_PER_ACCOUNT = 3
MAX_SCRIPTS_PER_ACCOUNT = 9

ROLE_PERMISSIONS: dict[str, dict[str, dict[str, bool]]] = {
    "Super Administrator - All Privileges": {
        area: {"read": True, "write": True}
        for area in ("analytics", "billing", "dns", "logs", "organization", "zones")
    },
    "Administrator": {
        "analytics": {"read": True, "write": True},
        "billing": {"read": False, "write": False},
        "dns": {"read": True, "write": True},
        "logs": {"read": True, "write": True},
        "organization": {"read": True, "write": False},
        "zones": {"read": True, "write": True},
    },
    "Administrator Read Only": {
        area: {"read": True, "write": False}
        for area in ("analytics", "billing", "dns", "logs", "organization", "zones")
    },
}


def derive_id(*parts: str) -> str:
    """Return a 32-character lowercase hex id that depends only on ``parts``."""
    text = ":".join((DATA_SALT, *parts))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def format_timestamp_millis(moment: datetime) -> str:
    """Format a UTC time as ISO 8601 with milliseconds, as in "…T09:14:03.412Z"."""
    millis = moment.microsecond // 1000
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis:03d}Z"


def format_timestamp_micros(moment: datetime) -> str:
    """Format a UTC time as ISO 8601 with microseconds, as account dates are."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _seeded_random(*parts: str) -> random.Random:
    return random.Random(int(derive_id(*parts), 16))


def _random_moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span_micros = int((end - start).total_seconds() * 1_000_000)
    return start + timedelta(microseconds=rng.randrange(span_micros))


def _domain_for(account_name: str) -> str:
    words = re.findall(r"[a-z0-9]+", account_name.lower())
    return "-".join(words) + ".example"


def build_account(name: str, account_type: str) -> dict[str, Any]:
    """Build one account object in the shape of ``GET /accounts`` items."""
    rng = _seeded_random("account", name)
    created_on = _random_moment(
        rng, datetime(2019, 1, 1, tzinfo=UTC), datetime(2025, 6, 1, tzinfo=UTC)
    )
    return {
        "id": derive_id("account", name),
        "name": name,
        "type": account_type,
        "settings": {
            "enforce_twofactor": account_type == "enterprise",
            "api_access_enabled": None,
            "abuse_contact_email": None,
            "default_nameservers": "cloudflare.standard",
            "use_account_custom_ns_by_default": False,
        },
        "created_on": format_timestamp_micros(created_on),
    }


def build_scripts(account: dict[str, Any]) -> list[dict[str, Any]]:
    """Build the Workers scripts of one account, sorted by name."""
    if account["name"] == EMPTY_ACCOUNT_NAME:
        return []
    rng = _seeded_random("scripts", account["name"])
    count = rng.randint(MIN_SCRIPTS_PER_ACCOUNT, MAX_SCRIPTS_PER_ACCOUNT)
    names = sorted(rng.sample(sorted(WORKER_HANDLERS), count))
    return [_build_script(account, name, rng) for name in names]


def _build_script(
    account: dict[str, Any], name: str, rng: random.Random
) -> dict[str, Any]:
    account_created_on = datetime.fromisoformat(account["created_on"])
    created_on = _random_moment(
        rng, account_created_on, DATA_EPOCH - timedelta(days=30)
    )
    modified_on = _random_moment(rng, created_on, DATA_EPOCH)
    compatibility_date = _random_moment(rng, created_on, modified_on).date()
    handlers = WORKER_HANDLERS[name]
    routes = None
    if "fetch" in handlers:
        routes = [
            {
                "id": derive_id("route", account["id"], name),
                "pattern": f"{name}.{_domain_for(account['name'])}/*",
                "script": name,
            }
        ]
    modified_text = format_timestamp_millis(modified_on)
    return {
        "id": name,
        "tag": derive_id("script", account["id"], name),
        "etag": hashlib.sha256(
            f"{DATA_SALT}:{account['id']}:{name}:{modified_text}".encode()
        ).hexdigest(),
        "handlers": list(handlers),
        # The API schema allows only these two values.
        "usage_model": rng.choice(("bundled", "unbound")),
        "compatibility_date": compatibility_date.isoformat(),
        "compatibility_flags": ["nodejs_compat"] if rng.random() < 0.5 else [],
        "logpush": False,
        "has_modules": True,
        "routes": routes,
        "created_on": format_timestamp_millis(created_on),
        "modified_on": modified_text,
    }


def build_membership(account: dict[str, Any], index: int) -> dict[str, Any]:
    """Build the demo user's membership of ``account``."""
    if account["name"] in ("Personal", "Acme Robotics"):
        role = "Super Administrator - All Privileges"
    elif index % 4 == 3:
        role = "Administrator Read Only"
    else:
        role = "Administrator"
    return {
        "id": derive_id("membership", account["id"]),
        "account": account,
        "status": "accepted",
        "roles": [role],
        "permissions": ROLE_PERMISSIONS[role],
        "api_access_enabled": None,
    }


DEMO_TOKEN_ID = derive_id("token", DEMO_TOKEN)

DEMO_USER: dict[str, Any] = {
    "id": derive_id("user", DEMO_EMAIL),
    "email": DEMO_EMAIL,
    "username": derive_id("username", DEMO_EMAIL),
    "first_name": "Demo",
    "last_name": "User",
    "telephone": None,
    "country": None,
    "zipcode": None,
    "two_factor_authentication_enabled": False,
    "two_factor_authentication_locked": False,
    "has_pro_zones": False,
    "has_business_zones": False,
    "has_enterprise_zones": False,
    "suspended": False,
    "betas": [],
    "organizations": [],
    "created_on": "2019-02-11T10:05:44.291538Z",
    "modified_on": "2026-10-21T16:42:09.803114Z",
}

# The verify endpoints report the demo token as active until this time.
DEMO_TOKEN_EXPIRES_ON = "2030-12-31T23:59:59Z"
DEMO_TOKEN_NOT_BEFORE = "2026-01-01T00:00:00Z"

ACCOUNTS: list[dict[str, Any]] = [
    build_account(name, account_type) for name, account_type in ACCOUNT_SPECS
]
ACCOUNTS_BY_ID: dict[str, dict[str, Any]] = {
    account["id"]: account for account in ACCOUNTS
}
SCRIPTS_BY_ACCOUNT_ID: dict[str, list[dict[str, Any]]] = {
    account["id"]: build_scripts(account) for account in ACCOUNTS
}
MEMBERSHIPS: list[dict[str, Any]] = [
    build_membership(account, index) for index, account in enumerate(ACCOUNTS)
]
