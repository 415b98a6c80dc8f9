"""Account paging and the Workers list, against a scripted loopback server."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from tests.faultserver import FaultServer, Reply, envelope
from tui import api as api_module
from tui.api import ApiError, CloudflareClient
from tui.credentials import Credential
from tui.errors import UserError

TOKEN = "paging-test-token-0123456789"
ACCOUNT = "00000000000000000000000000000abc"


def account_id(number: int) -> str:
    return f"{number:032x}"


def rows(*numbers: int) -> list[dict[str, Any]]:
    return [{"id": account_id(n), "name": f"Account {n:03d}"} for n in numbers]


def page(result: list[Any], info: dict[str, Any] | None = None, **extra: Any) -> Reply:
    body = envelope(result)
    if info is not None:
        body["result_info"] = info
    body.update(extra)
    return Reply(200, body=body)


def info(page_number: int, count: int, per_page: int = 2, **totals: int) -> dict:
    return {"page": page_number, "per_page": per_page, "count": count, **totals}


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as fault:
        yield fault


@pytest.fixture
async def client(server: FaultServer) -> AsyncIterator[CloudflareClient]:
    credential = Credential.api_token(TOKEN, "test")
    async with CloudflareClient(server.base_url, credential) as cf:
        yield cf


def queue(server: FaultServer, *replies: Reply) -> None:
    for reply in replies:
        server.enqueue(reply, path_contains="/accounts")


def pages_requested(server: FaultServer) -> list[int]:
    return [int(parse_qs(r.query)["page"][0]) for r in server.requests]


def listed_ids(accounts) -> list[str]:
    return [account.id for account in accounts]


async def test_stops_at_total_pages(server, client):
    queue(
        server,
        page(rows(1, 2), info(1, 2, total_pages=3)),
        page(rows(3, 4), info(2, 2, total_pages=3)),
        page(rows(5, 6), info(3, 2, total_pages=3)),
        page(rows(7, 8), info(4, 2, total_pages=3)),
    )
    accounts = await client.list_accounts(page_size=2)
    assert listed_ids(accounts) == [account_id(n) for n in range(1, 7)]
    assert pages_requested(server) == [1, 2, 3]


async def test_sends_page_and_per_page(server, client):
    queue(server, page(rows(1), info(1, 1, per_page=50, total_pages=1)))
    await client.list_accounts()
    (request,) = server.requests
    assert request.method == "GET"
    assert request.path == "/client/v4/accounts"
    assert parse_qs(request.query) == {"page": ["1"], "per_page": ["50"]}
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


async def test_stops_when_total_count_reached(server, client):
    # The pages are full and have no total_pages, so only total_count ends at 2.
    queue(
        server,
        page(rows(1, 2), info(1, 2, total_count=4)),
        page(rows(3, 4), info(2, 2, total_count=4)),
        page(rows(5, 6), info(3, 2, total_count=4)),
    )
    accounts = await client.list_accounts(page_size=2)
    assert len(accounts) == 4
    assert pages_requested(server) == [1, 2]


async def test_stops_on_short_page(server, client):
    queue(
        server,
        page(rows(1, 2), info(1, 2)),
        page(rows(3), info(2, 1)),
        page(rows(4, 5), info(3, 2)),
    )
    accounts = await client.list_accounts(page_size=2)
    assert len(accounts) == 3
    assert pages_requested(server) == [1, 2]


async def test_no_result_info_means_one_page(server, client):
    queue(server, page(rows(1, 2)), page(rows(3, 4)))
    accounts = await client.list_accounts(page_size=2)
    assert len(accounts) == 2
    assert pages_requested(server) == [1]


async def test_stops_on_empty_page(server, client):
    queue(
        server,
        page(rows(1, 2), info(1, 2, total_pages=5)),
        page([], info(2, 0, total_pages=5)),
        page(rows(3, 4), info(3, 2, total_pages=5)),
    )
    accounts = await client.list_accounts(page_size=2)
    assert len(accounts) == 2
    assert pages_requested(server) == [1, 2]


@pytest.mark.parametrize("result", [None, {}, "oops"], ids=["null", "object", "text"])
async def test_stops_when_result_is_not_a_list(server, client, result):
    queue(
        server,
        page(rows(1, 2), info(1, 2, total_pages=3)),
        page(result, info(2, 2, total_pages=3)),
    )
    accounts = await client.list_accounts(page_size=2)
    assert len(accounts) == 2
    assert pages_requested(server) == [1, 2]


async def test_stops_on_repeated_page(server, client):
    # A server that ignores ?page= sends page 1 again, with totals that lie.
    for _ in range(5):
        queue(server, page(rows(1, 2), info(1, 2, total_pages=50, total_count=100)))
    accounts = await client.list_accounts(page_size=2)
    assert listed_ids(accounts) == [account_id(1), account_id(2)]
    assert pages_requested(server) == [1, 2]


async def test_stops_on_repeat_of_older_page(server, client):
    queue(
        server,
        page(rows(1, 2), info(1, 2, total_pages=9)),
        page(rows(3, 4), info(2, 2, total_pages=9)),
        page(rows(1, 2), info(3, 2, total_pages=9)),
        page(rows(5, 6), info(4, 2, total_pages=9)),
    )
    accounts = await client.list_accounts(page_size=2)
    assert len(accounts) == 4
    assert pages_requested(server) == [1, 2, 3]


async def test_duplicates_across_pages_listed_once(server, client):
    queue(
        server,
        page(rows(1, 2), info(1, 2, total_pages=3)),
        page(rows(2, 3), info(2, 2, total_pages=3)),
        page(rows(3, 1), info(3, 2, total_pages=3)),
    )
    accounts = await client.list_accounts(page_size=2)
    assert listed_ids(accounts) == [account_id(1), account_id(2), account_id(3)]
    assert pages_requested(server) == [1, 2, 3]


async def test_infinite_pages_capped(caplog):
    """Every page is new and full and no total is given, so only the cap stops it.

    An in-process transport serves the pages, because 200 requests to the
    loopback FaultServer take about 9 s (one keep-alive reply takes ~40 ms).
    """
    requested: list[int] = []

    def endless(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page"])
        requested.append(number)
        body = envelope(rows(2 * number, 2 * number + 1))
        body["result_info"] = info(number, 2)
        return httpx.Response(200, json=body)

    credential = Credential.api_token(TOKEN, "test")
    transport = httpx.MockTransport(endless)
    async with CloudflareClient(
        "http://127.0.0.1:9/client/v4", credential, transport=transport
    ) as cf:
        with caplog.at_level(logging.WARNING, logger="tui.api"):
            accounts = await cf.list_accounts(page_size=2)
    assert api_module.MAX_PAGES == 200
    assert requested == list(range(1, api_module.MAX_PAGES + 1))
    assert len(accounts) == 2 * api_module.MAX_PAGES
    assert f"after {api_module.MAX_PAGES} pages" in caplog.text


async def test_cap_over_http(server, client, monkeypatch):
    monkeypatch.setattr(api_module, "MAX_PAGES", 4)
    for number in range(1, 7):
        queue(server, page(rows(2 * number, 2 * number + 1), info(number, 2)))
    accounts = await client.list_accounts(page_size=2)
    assert pages_requested(server) == [1, 2, 3, 4]
    assert len(accounts) == 8


async def test_sorted_by_name_and_invalid_rows_skipped(server, client):
    result = [
        {"id": account_id(3), "name": "beta"},
        {"id": account_id(1), "name": "Alpha"},
        {"id": account_id(2)},
        {"id": "ABCDEF" + "0" * 26, "name": "upper-case id"},
        {"id": "short", "name": "bad id"},
        {"name": "no id"},
        "not an object",
        None,
    ]
    queue(server, page(result, info(1, len(result), per_page=50, total_pages=1)))
    accounts = await client.list_accounts()
    assert [(a.id, a.name) for a in accounts] == [
        (account_id(2), account_id(2)),
        (account_id(1), "Alpha"),
        (account_id(3), "beta"),
    ]


async def test_failed_page_raises(server, client):
    queue(
        server,
        page(rows(1, 2), info(1, 2, total_pages=3)),
        Reply.envelope_error(403, 9109, "Unauthorized to access requested resource"),
    )
    with pytest.raises(ApiError) as caught:
        await client.list_accounts(page_size=2)
    assert caught.value.what == "listing accounts"
    assert caught.value.outcome == "auth_failed"
    assert TOKEN not in str(caught.value)


# -- Workers list --------------------------------------------------------------


async def test_list_scripts_one_page(server, client):
    result = [
        {"id": "zeta", "modified_on": "2026-01-02T03:04:05Z"},
        {"id": "Alpha"},
        {"id": "beta", "modified_on": 12},
        {"id": "zeta", "modified_on": "2020-01-01T00:00:00Z"},
        {"id": ""},
        {"id": None, "routes": [{"pattern": "x.example.com/*"}]},
        {"routes": []},
        ["not", "an", "object"],
    ]
    server.enqueue(
        page(result, info(1, len(result), per_page=50, total_pages=9)),
        path_contains="/workers/scripts",
    )
    scripts = await client.list_scripts(ACCOUNT)
    assert [(s.id, s.modified_on) for s in scripts] == [
        ("Alpha", None),
        ("beta", None),
        ("zeta", "2026-01-02T03:04:05Z"),
    ]
    (request,) = server.requests
    assert request.path == f"/client/v4/accounts/{ACCOUNT}/workers/scripts"
    assert request.query == ""


async def test_list_scripts_lowercases_account(server, client):
    server.enqueue(page([{"id": "w"}]), path_contains="/workers/scripts")
    await client.list_scripts(ACCOUNT.upper())
    (request,) = server.requests
    assert request.path == f"/client/v4/accounts/{ACCOUNT}/workers/scripts"


async def test_list_scripts_empty(server, client):
    server.enqueue(page([]), path_contains="/workers/scripts")
    assert await client.list_scripts(ACCOUNT) == []


async def test_list_scripts_invalid_account_sends_nothing(server, client):
    with pytest.raises(UserError):
        await client.list_scripts("../" + ACCOUNT[3:])
    assert server.requests == []


async def test_list_scripts_not_found(server, client):
    server.enqueue(
        Reply.envelope_error(404, 7003, "Could not route to /accounts/x"),
        path_contains="/workers/scripts",
    )
    with pytest.raises(ApiError) as caught:
        await client.list_scripts(ACCOUNT)
    assert caught.value.what == "listing Workers"
    assert caught.value.outcome == "not_found"
