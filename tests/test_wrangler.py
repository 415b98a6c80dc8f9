"""Worker name and account id from wrangler.toml, wrangler.json and wrangler.jsonc."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.faultserver import FaultServer
from tui import wrangler
from tui.cli import build_parser, main, resolve_options
from tui.errors import UserError

TOP_ACCOUNT = "0123456789abcdef0123456789abcdef"
STAGING_ACCOUNT = "fedcba9876543210fedcba9876543210"

TOML = f"""\
name = "shop"
account_id = "{TOP_ACCOUNT}"
main = "src/index.ts"

[env.staging]
account_id = "{STAGING_ACCOUNT}"

[env.production]
name = "shop-live"

[env.bare]
vars = {{ LEVEL = "debug" }}
"""

JSON_CONFIG = {
    "name": "shop",
    "account_id": TOP_ACCOUNT,
    "env": {
        "staging": {"account_id": STAGING_ACCOUNT},
        "production": {"name": "shop-live"},
        "bare": {"vars": {"LEVEL": "debug"}},
    },
}

JSONC = f"""\
// wrangler.jsonc written by hand
{{
  /* the Worker's name */
  "name": "shop", // trailing comment
  "account_id": "{TOP_ACCOUNT}",
  "main": "src/index.ts",
  "env": {{
    "staging": {{ "account_id": "{STAGING_ACCOUNT}", }},
    "production": {{
      "name": "shop-live", /* block
      comment over lines */
    }},
    "bare": {{ "vars": {{ "LEVEL": "debug" }}, }},
  }},
}}
"""

# (environment, expected name, expected account id)
ENVIRONMENTS = [
    (None, "shop", TOP_ACCOUNT),
    ("staging", "shop-staging", STAGING_ACCOUNT),
    ("production", "shop-live", TOP_ACCOUNT),
    ("bare", "shop-bare", TOP_ACCOUNT),
]


# Secrets and log handlers registered by in-process runs stay in their test.
pytestmark = pytest.mark.usefixtures("fresh_secrets")


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def config_files(directory: Path) -> list[Path]:
    return [
        write(directory, "wrangler.toml", TOML),
        write(directory, "wrangler.json", json.dumps(JSON_CONFIG, indent=2)),
        write(directory, "wrangler.jsonc", JSONC),
    ]


@pytest.mark.parametrize(("env_name", "name", "account_id"), ENVIRONMENTS)
@pytest.mark.parametrize("suffix", ["toml", "json", "jsonc"])
def test_resolve_with_environments(tmp_path, suffix, env_name, name, account_id):
    files = {path.suffix.lstrip("."): path for path in config_files(tmp_path)}
    config = wrangler.resolve(files[suffix], env_name)
    assert config.name == name
    assert config.account_id == account_id
    assert config.path == files[suffix]


@pytest.mark.parametrize("suffix", ["toml", "json", "jsonc"])
def test_unknown_environment_names_file(tmp_path, suffix):
    files = {path.suffix.lstrip("."): path for path in config_files(tmp_path)}
    with pytest.raises(UserError) as caught:
        wrangler.resolve(files[suffix], "qa")
    assert str(files[suffix]) in str(caught.value)
    assert "'qa'" in str(caught.value)


def test_account_id_only_in_environment(tmp_path):
    text = f'name = "w"\n[env.dev]\naccount_id = "{STAGING_ACCOUNT}"\n'
    path = write(tmp_path, "wrangler.toml", text)
    assert wrangler.resolve(path).account_id is None
    assert wrangler.resolve(path, "dev").account_id == STAGING_ACCOUNT


def test_environment_name_without_top_level_name(tmp_path):
    path = write(tmp_path, "wrangler.toml", '[env.dev]\nroute = "x"\n')
    config = wrangler.resolve(path, "dev")
    assert config.name is None
    assert config.account_id is None


@pytest.mark.parametrize("text", ['name = ""\naccount_id = ""\n', 'main = "x"\n'])
def test_missing_or_empty_values_are_none(tmp_path, text):
    config = wrangler.resolve(write(tmp_path, "wrangler.toml", text))
    assert config.name is None
    assert config.account_id is None


@pytest.mark.parametrize(
    ("text", "key"), [("name = 3\n", "name"), ("account_id = [1]\n", "account_id")]
)
def test_wrong_type_values_name_file_and_key(tmp_path, text, key):
    path = write(tmp_path, "wrangler.toml", text)
    with pytest.raises(UserError) as caught:
        wrangler.resolve(path)
    assert str(path) in str(caught.value)
    assert f"{key} must be a string" in str(caught.value)


def test_environment_that_is_not_a_table(tmp_path):
    path = write(tmp_path, "wrangler.json", '{"name": "a", "env": {"x": 3}}')
    with pytest.raises(UserError) as caught:
        wrangler.resolve(path, "x")
    assert "must be a table" in str(caught.value)


def test_empty_environment_name_is_an_error(tmp_path):
    path = write(tmp_path, "wrangler.toml", 'name = "a"\n')
    with pytest.raises(UserError) as caught:
        wrangler.resolve(path, "")
    assert "--env needs an environment name" in str(caught.value)


def test_find_config_order(tmp_path):
    assert wrangler.find_config(tmp_path) is None
    write(tmp_path, "wrangler.toml", TOML)
    assert wrangler.find_config(tmp_path) == tmp_path / "wrangler.toml"
    write(tmp_path, "wrangler.jsonc", JSONC)
    assert wrangler.find_config(tmp_path) == tmp_path / "wrangler.jsonc"
    write(tmp_path, "wrangler.json", json.dumps(JSON_CONFIG))
    assert wrangler.find_config(tmp_path) == tmp_path / "wrangler.json"


def test_find_config_skips_directories(tmp_path):
    (tmp_path / "wrangler.json").mkdir()
    write(tmp_path, "wrangler.toml", TOML)
    assert wrangler.find_config(tmp_path) == tmp_path / "wrangler.toml"


# -- JSONC -------------------------------------------------------------------

STRING_CASES = [
    "https://example.com/path",
    "a // not a comment",
    "a /* not a comment */ b",
    'quote \\" then // still a string',
    "backslash at end \\\\",
    "comma before brace ,}",
    "comma before bracket , ]",
]


@pytest.mark.parametrize("value", STRING_CASES)
def test_jsonc_keeps_comment_marks_in_strings(tmp_path, value):
    text = f'{{\n  "name": "{value}", // real comment\n  "x": [1, 2,],\n}}\n'
    path = write(tmp_path, "wrangler.jsonc", text)
    data = wrangler.parse_config(path)
    assert data["name"] == json.loads(f'"{value}"')
    assert data["x"] == [1, 2]


def test_jsonc_comment_only_lines_and_trailing_commas(tmp_path):
    text = (
        "/* header */\n"
        "{\n"
        '  "routes": [\n'
        '    "a.example.com/*", // first\n'
        '    "b.example.com/*", /* second */\n'
        "  ],\n"
        '  "name": "w",\n'
        "  // a comment before the closing brace\n"
        "}\n"
        "// trailer without newline"
    )
    data = wrangler.parse_config(write(tmp_path, "wrangler.jsonc", text))
    assert data == {"routes": ["a.example.com/*", "b.example.com/*"], "name": "w"}


def test_strip_jsonc_keeps_line_numbers():
    text = '{\n/* one\ntwo\nthree */ "a": 1, // x\n"b": 2,\n}\n'
    cleaned = wrangler.strip_jsonc(text)
    assert cleaned.count("\n") == text.count("\n")
    assert len(cleaned) == len(text)
    assert json.loads(cleaned) == {"a": 1, "b": 2}


def test_plain_json_rejects_comments(tmp_path):
    """Comments are a JSONC feature, so wrangler.json must be strict JSON."""
    path = write(tmp_path, "wrangler.json", '{\n  "name": "w" // no\n}\n')
    with pytest.raises(UserError) as caught:
        wrangler.parse_config(path)
    assert f"{path}, line 2" in str(caught.value)


# -- bad files ---------------------------------------------------------------

BAD_FILES = [
    # (file name, content, text expected in the error after the path)
    (
        "wrangler.json",
        '{\n  "name": "w",\n  "account_id": \n}\n',
        ", line 4: invalid JSON",
    ),
    ("wrangler.json", '{\n  "name": "w",\n}\n', ", line 3: invalid JSON"),
    (
        "wrangler.jsonc",
        '{\n  "name": "w"\n  "main": "x"\n}\n',
        ", line 3: invalid JSON",
    ),
    (
        "wrangler.jsonc",
        '{\n  "name": "w"\n}\n/* never closed\n',
        ", line 4: invalid JSONC",
    ),
    ("wrangler.jsonc", '{\n\n\n  "name": "open string\n}', ", line 4: invalid JSON"),
    ("wrangler.toml", 'name = "w"\naccount_id = \n', "line 2"),
    ("wrangler.toml", 'name = "w"\n[env.dev\n', "line 2"),
    ("wrangler.toml", 'name = "w"\nname = "x"\n', "line 2"),
    ("wrangler.json", '["not", "an", "object"]', ": expected a JSON object"),
]


@pytest.mark.parametrize(("name", "content", "expected"), BAD_FILES)
def test_bad_file_names_file_and_line(tmp_path, name, content, expected):
    path = write(tmp_path, name, content)
    with pytest.raises(UserError) as caught:
        wrangler.resolve(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    assert expected in message


def test_unreadable_file_names_file(tmp_path):
    path = tmp_path / "wrangler.toml"
    path.write_bytes(b'name = "\xff\xfe"\n')
    with pytest.raises(UserError) as caught:
        wrangler.resolve(path)
    assert str(path) in str(caught.value)
    assert "not UTF-8 text" in str(caught.value)


# -- preselection from the current directory ---------------------------------


def options_for(*argv: str):
    return resolve_options(build_parser().parse_args(list(argv)), {})


def test_cli_preselects_from_wrangler_file(tmp_path):
    write(tmp_path, "wrangler.jsonc", JSONC)
    options = options_for()
    assert options.account == TOP_ACCOUNT
    assert options.script == "shop"
    assert options.account_source == "wrangler.jsonc in the current directory"
    assert not options.skip_pickers


def test_cli_flags_beat_wrangler_file(tmp_path):
    write(tmp_path, "wrangler.toml", TOML)
    options = options_for("--account", STAGING_ACCOUNT, "--script", "other")
    assert options.account == STAGING_ACCOUNT
    assert options.script == "other"
    assert options.account_source == "--account"


def test_cli_broken_wrangler_file_is_a_notice(tmp_path):
    path = write(tmp_path, "wrangler.toml", 'name = "w"\nname = "x"\n')
    options = options_for()
    assert options.account is None
    assert len(options.notices) == 1
    assert options.notices[0].startswith("ignored ")
    assert str(path) in options.notices[0]
    assert "line 2" in options.notices[0]


INVALID_PRESELECTIONS = [
    'name = "shop"\naccount_id = "<YOUR_ACCOUNT_ID>"\n',
    f'name = "My Shop"\naccount_id = "{TOP_ACCOUNT}"\n',
]


@pytest.mark.parametrize(
    "text", INVALID_PRESELECTIONS, ids=["placeholder-account-id", "name-with-space"]
)
def test_cli_invalid_wrangler_values_are_notices(
    tmp_path, text, monkeypatch, capsys, restore_logging
):
    """A placeholder in a wrangler file must not stop --list-accounts."""
    write(tmp_path, "wrangler.toml", text)
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "token-for-listing")
    with FaultServer() as api:
        code = main(["--list-accounts", "--base-url", api.base_url])
        requests = api.requests
    stderr = capsys.readouterr().err
    assert "wrangler.toml" in stderr
    assert code == 0
    assert [request.path for request in requests][-1].endswith("/accounts")
