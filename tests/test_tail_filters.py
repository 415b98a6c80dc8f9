"""wrangler tail's filter flags: the live-tail filters they send, and their checks."""

from __future__ import annotations

import random
import shlex

import pytest

from tui import tail_filters
from tui.cli import build_parser, main, resolve_options
from tui.client_filter import ClientFilter, HeaderMatch, make_client_filter
from tui.errors import UserError
from tui.events import FAILED_OUTCOMES, parse_event
from tui.filters import describe_filters
from tui.tail_filters import FlagError, parse_client_flags, parse_ip

ACCOUNT = "0123456789abcdef0123456789abcdef"
ERROR_OUTCOMES = (
    "exception,exceededCpu,exceededMemory,exceededResources,scriptNotFound,"
    "internalError,killSwitch,daemonDown,loadShed,responseStreamDisconnected"
)
OUTCOME_OK = {
    "key": "$workers.outcome",
    "operation": "eq",
    "type": "string",
    "value": "ok",
}
OUTCOME_ERROR = {
    "key": "$workers.outcome",
    "operation": "in",
    "type": "string",
    "value": ERROR_OUTCOMES,
}
OUTCOME_CANCELED = {
    "key": "$workers.outcome",
    "operation": "eq",
    "type": "string",
    "value": "canceled",
}
METHOD_GET = {
    "key": "$workers.event.request.method",
    "operation": "eq",
    "type": "string",
    "value": "GET",
}
METHOD_POST = {
    "key": "$workers.event.request.method",
    "operation": "eq",
    "type": "string",
    "value": "POST",
}
VERSION = "8c2c5a3e-5d1b-4a2e-9c61-0d7f3e1b2a40"


def options_for(*argv: str):
    return resolve_options(build_parser().parse_args(list(argv)), {})


# (flags, expected server-side filter list)
SERVER_CASES = [
    (["--status", "ok"], [OUTCOME_OK]),
    (["--status", "canceled"], [OUTCOME_CANCELED]),
    (["--status", "error"], [OUTCOME_ERROR]),
    (
        ["--status", "ok", "--status", "error"],
        [
            {
                "kind": "group",
                "filterCombination": "or",
                "filters": [OUTCOME_OK, OUTCOME_ERROR],
            }
        ],
    ),
    (
        ["--status", "error", "--status", "canceled", "--status", "ok"],
        [
            {
                "kind": "group",
                "filterCombination": "or",
                "filters": [OUTCOME_ERROR, OUTCOME_CANCELED, OUTCOME_OK],
            }
        ],
    ),
    (["--status", "OK", "--status", "ok"], [OUTCOME_OK]),
    (["--method", "GET"], [METHOD_GET]),
    (["--method", "get"], [METHOD_GET]),
    (
        ["--method", "GET", "--method", "post"],
        [
            {
                "kind": "group",
                "filterCombination": "or",
                "filters": [METHOD_GET, METHOD_POST],
            }
        ],
    ),
    (
        ["--search", "signed in"],
        [
            {
                "key": "$metadata.message",
                "operation": "includes",
                "type": "string",
                "value": "signed in",
            }
        ],
    ),
    (
        ["--version-id", VERSION.upper()],
        [
            {
                "key": "$workers.scriptVersion.id",
                "operation": "eq",
                "type": "string",
                "value": VERSION,
            }
        ],
    ),
    (
        ["--version-id", VERSION, "--method", "POST", "--status", "error"],
        [
            OUTCOME_ERROR,
            METHOD_POST,
            {
                "key": "$workers.scriptVersion.id",
                "operation": "eq",
                "type": "string",
                "value": VERSION,
            },
        ],
    ),
]


@pytest.mark.parametrize(("flags", "expected"), SERVER_CASES)
def test_flag_sends_filters(flags, expected):
    filters = options_for(*flags).filters
    assert filters.server == expected
    assert filters.client.active is False


def test_flags_prepare_body_combines_with_and():
    filters = options_for("--status", "ok", "--method", "GET").filters
    body = filters.filter_set().body()
    assert body == {"filters": [OUTCOME_OK, METHOD_GET], "filterCombination": "and"}


def test_error_status_covers_every_failed_outcome():
    assert set(ERROR_OUTCOMES.split(",")) == FAILED_OUTCOMES


def test_client_flags_send_no_filters():
    filters = options_for(
        "--header", "X-Tenant:acme", "--ip", "203.0.113.7", "--sampling-rate", "0.25"
    ).filters
    assert filters.server == []
    assert filters.client.headers == (HeaderMatch("x-tenant", "acme"),)
    assert [str(a) for a in filters.client.addresses] == ["203.0.113.7"]
    assert filters.client.sampling_rate == 0.25


def test_no_flags_no_filters():
    filters = options_for().filters
    assert filters.server == []
    assert filters.active is False
    assert filters.filter_set().body() == {}


# -- invalid values ----------------------------------------------------------

BAD_VALUES = [
    (["--status", "failed"], "invalid status 'failed': use ok, error or canceled"),
    (["--method", "GE T"], "invalid method 'GE T'"),
    (["--method", ""], "invalid method ''"),
    (["--search", "  "], "the search text is empty"),
    (["--header", "x tenant"], "invalid header 'x tenant'"),
    (["--header", "x-tenant:"], "the value after ':' is empty"),
    (["--header", ":acme"], "invalid header ':acme'"),
    (["--ip", "203.0.113.999"], "invalid IP address '203.0.113.999'"),
    (["--ip", "example.com"], "invalid IP address 'example.com'"),
    (["--version-id", "v42"], "invalid version id 'v42'"),
    (["--sampling-rate", "0"], "invalid sampling rate '0'"),
    (["--sampling-rate", "1.5"], "invalid sampling rate '1.5'"),
    (["--sampling-rate", "-0.1"], "invalid sampling rate '-0.1'"),
    (["--sampling-rate", "nan"], "invalid sampling rate 'nan'"),
    (["--sampling-rate", "ten"], "invalid sampling rate 'ten'"),
    (["--format", "yaml"], "invalid choice: 'yaml'"),
]


@pytest.mark.parametrize(("argv", "expected"), BAD_VALUES)
def test_invalid_value_is_one_line_exit_2(argv, expected, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1
    assert expected in captured.err


def test_ip_self_says_why(capsys):
    code = main(["--ip", "self"])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "'self' cannot be resolved" in err
    assert "reports your own IP address" in err


MISPLACED = [
    (
        ["--list-accounts", "--status", "ok"],
        "--status filter live-tail events: use them with the app or with "
        "--headless --events",
    ),
    (
        ["--headless", "--account", ACCOUNT, "w", "--ip", "192.0.2.1", "--search", "x"],
        "--search, --ip filter live-tail events: add --events to print them",
    ),
    (["--format", "json"], "--format works only with --headless"),
    (["w", "--script", "v"], "the Worker is named twice, 'w' and --script 'v'"),
]


@pytest.mark.parametrize(("argv", "expected"), MISPLACED)
def test_misplaced_flag_is_rejected(argv, expected):
    with pytest.raises(UserError) as caught:
        options_for(*argv)
    assert expected in str(caught.value)


def test_positional_worker_works_like_script():
    options = options_for("--account", ACCOUNT, "my-worker")
    assert options.script == "my-worker"
    assert options.script_source == "the WORKER argument"
    assert options.skip_pickers is True


def test_positional_and_script_may_agree():
    options = options_for("my-worker", "--script", "my-worker")
    assert options.script == "my-worker"
    assert options.script_source == "--script"


def test_positional_worker_is_checked():
    with pytest.raises(UserError, match="invalid"):
        options_for("my worker")


# -- client-side checks ------------------------------------------------------


def fetch_event(headers, request_id="r1", shape="observability"):
    """Return a raw invocation event of a fetch request with ``headers``."""
    request = {"method": "GET", "url": "https://w.example/", "headers": headers}
    if shape == "wrangler":
        return parse_event(
            {"outcome": "ok", "event": {"request": request}, "logs": []}, 1.0
        )
    return parse_event(
        {
            "timestamp": 1_700_000_000_000,
            "$metadata": {"requestId": request_id, "type": "cf-worker-event"},
            "$workers": {"outcome": "ok", "event": {"request": request}},
        },
        1.0,
    )


def console_event(request_id="r1"):
    return parse_event(
        {
            "timestamp": 1_700_000_000_000,
            "$metadata": {"requestId": request_id, "message": "hello", "level": "log"},
        },
        1.0,
    )


HEADER_CASES = [
    # (flag value, headers of the event, shape, expected)
    ("x-tenant", {"x-tenant": "acme"}, "observability", True),
    ("X-Tenant", {"x-tenant": "acme"}, "observability", True),
    ("x-tenant", {"X-TENANT": "acme"}, "observability", True),
    ("x-tenant:acme", {"x-tenant": "acme"}, "observability", True),
    ("x-tenant: acme ", {"x-tenant": "acme"}, "observability", True),
    ("x-tenant:Acme", {"x-tenant": "acme"}, "observability", False),
    ("x-tenant:acme", {"x-tenant": "globex"}, "observability", False),
    ("x-tenant", {"accept": "*/*"}, "observability", False),
    ("x-tenant", [["x-tenant", "acme"]], "observability", True),
    ("x-tenant:acme", [{"name": "x-tenant", "value": "acme"}], "observability", True),
    ("x-tenant:acme", {"x-tenant": "acme"}, "wrangler", True),
    ("x-tenant:acme", {"x-tenant": "other"}, "wrangler", False),
]


@pytest.mark.parametrize(("flag", "headers", "shape", "expected"), HEADER_CASES)
def test_header_check(flag, headers, shape, expected):
    check = make_client_filter(headers=[tail_filters.parse_header(flag)])
    assert check.accepts(fetch_event(headers, shape=shape)) is expected


def test_header_check_drops_events_without_request():
    check = make_client_filter(headers=[HeaderMatch("x-tenant")])
    assert check.accepts(console_event()) is False


def test_repeated_headers_match_any():
    check = make_client_filter(
        headers=[HeaderMatch("x-tenant", "acme"), HeaderMatch("x-debug")]
    )
    assert check.accepts(fetch_event({"x-debug": "1"})) is True
    assert check.accepts(fetch_event({"x-tenant": "acme"})) is True
    assert check.accepts(fetch_event({"x-tenant": "globex"})) is False


IP_CASES = [
    # (flag values, cf-connecting-ip of the event, expected)
    (["203.0.113.7"], "203.0.113.7", True),
    (["203.0.113.7"], "203.0.113.8", False),
    (["203.0.113.7", "198.51.100.23"], "198.51.100.23", True),
    (["2001:db8:0:0::1f"], "2001:db8::1f", True),
    (["2001:DB8::1F"], "2001:db8::1f", True),
    (["203.0.113.7"], "::ffff:203.0.113.7", True),
    (["::ffff:203.0.113.7"], "203.0.113.7", True),
    (["203.0.113.7"], "not an address", False),
]


@pytest.mark.parametrize(("flags", "header", "expected"), IP_CASES)
def test_ip_check(flags, header, expected):
    check = make_client_filter(addresses=[parse_ip(value) for value in flags])
    assert check.accepts(fetch_event({"cf-connecting-ip": header})) is expected


def test_ip_check_drops_events_without_address():
    check = make_client_filter(addresses=[parse_ip("203.0.113.7")])
    assert check.accepts(fetch_event({"accept": "*/*"})) is False
    assert check.accepts(console_event()) is False


def test_header_and_ip_must_both_match():
    check = make_client_filter(
        headers=[HeaderMatch("x-tenant")], addresses=[parse_ip("203.0.113.7")]
    )
    both = {"x-tenant": "a", "cf-connecting-ip": "203.0.113.7"}
    assert check.accepts(fetch_event(both)) is True
    assert check.accepts(fetch_event({"x-tenant": "a"})) is False
    assert check.accepts(fetch_event({"cf-connecting-ip": "203.0.113.7"})) is False


def test_sampling_keeps_a_request_whole():
    check = make_client_filter(sampling_rate=0.5)
    for number in range(200):
        request_id = f"request-{number}"
        kept = check.accepts(fetch_event({}, request_id))
        assert check.accepts(console_event(request_id)) is kept, request_id


def test_sampling_share_by_request_id():
    check = make_client_filter(sampling_rate=0.2)
    kept = sum(check.accepts(console_event(f"{n:016x}")) for n in range(5000))
    assert 850 <= kept <= 1150


def test_sampling_share_without_request_id():
    check = ClientFilter(sampling_rate=0.3, rng=random.Random(3))
    line = parse_event({"message": "no request id"}, 1.0)
    kept = sum(check.accepts(line) for _ in range(5000))
    assert 1350 <= kept <= 1650


def test_sampling_rate_one_keeps_everything():
    check = make_client_filter(sampling_rate=1.0)
    assert all(check.accepts(console_event(f"r{n}")) for n in range(500))


def test_client_filter_describe():
    check = parse_client_flags(
        "--header x-tenant:acme --header x-debug --ip 203.0.113.7 "
        "--ip 2001:db8::1 --sampling-rate 0.125"
    )
    assert check.describe() == (
        "header x-tenant:acme or x-debug · IP 203.0.113.7 or 2001:db8::1 · "
        "sampling 12.5% of events"
    )


def test_client_flags_round_trip():
    text = "--header 'user-agent:curl/8.5.0 (x)' --ip 203.0.113.7 --sampling-rate 0.1"
    check = parse_client_flags(text)
    assert check.flags() == [
        "--header",
        "user-agent:curl/8.5.0 (x)",
        "--ip",
        "203.0.113.7",
        "--sampling-rate",
        "0.1",
    ]
    assert parse_client_flags(shlex.join(check.flags())) == check


def test_client_flags_empty_is_inactive():
    assert parse_client_flags("   ").active is False


CLIENT_FLAG_ERRORS = [
    ("--status error", "only --header, --ip and --sampling-rate are client-side"),
    ("--ip self", "'self' cannot be resolved"),
    ("--sampling-rate 2", "invalid sampling rate '2'"),
    ("--header 'unclosed", "cannot split the flags"),
    ("--ip", "expected one argument"),
]


@pytest.mark.parametrize(("text", "expected"), CLIENT_FLAG_ERRORS)
def test_client_flags_errors(text, expected):
    with pytest.raises(FlagError) as caught:
        parse_client_flags(text)
    assert expected in str(caught.value)


# -- descriptions --------------------------------------------------------------


def test_describe_filters():
    filters = options_for(
        "--status", "ok", "--status", "canceled", "--method", "GET", "--search", " x"
    ).filters
    assert describe_filters(filters.server) == (
        "($workers.outcome = ok or $workers.outcome = canceled) and "
        '$workers.event.request.method = GET and $metadata.message includes " x"'
    )


def test_describe_lines():
    filters = options_for("--method", "PUT", "--sampling-rate", "0.5").filters
    assert filters.describe() == [
        "server-side filters: $workers.event.request.method = PUT",
        "client-side filters: sampling 50% of events",
    ]
