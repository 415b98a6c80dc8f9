"""--config and --env: which wrangler file, which environment, and what it gave."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import cli_command, cli_env
from tests.test_wrangler import (
    JSON_CONFIG,
    JSONC,
    STAGING_ACCOUNT,
    TOML,
    TOP_ACCOUNT,
    config_files,
    write,
)
from tui import wrangler
from tui.cli import build_parser, main, resolve_options
from tui.demo import data
from tui.errors import UserError

# (environment, expected Worker, expected account id)
ENVIRONMENTS = [
    (None, "shop", TOP_ACCOUNT),
    ("staging", "shop-staging", STAGING_ACCOUNT),
    ("production", "shop-live", TOP_ACCOUNT),
    ("bare", "shop-bare", TOP_ACCOUNT),
]


# Secrets and log handlers registered by in-process runs stay in their test.
pytestmark = pytest.mark.usefixtures("restore_logging")


def options_for(*argv: str):
    return resolve_options(build_parser().parse_args(list(argv)), {})


@pytest.mark.parametrize(("env_name", "name", "account_id"), ENVIRONMENTS)
@pytest.mark.parametrize("suffix", ["toml", "json", "jsonc"])
def test_config_and_env_flags(tmp_path, suffix, env_name, name, account_id):
    folder = tmp_path / "project"
    folder.mkdir()
    path = {p.suffix.lstrip("."): p for p in config_files(folder)}[suffix]
    argv = ["--config", str(path)] + (["--env", env_name] if env_name else [])
    options = options_for(*argv)
    where = str(path) + (f", environment {env_name}" if env_name else "")
    assert options.script == name
    assert options.account == account_id
    assert options.script_source == where
    assert options.account_source == where
    assert options.config_note == f"using {where}: Worker {name}, account {account_id}"
    assert options.notices == []


@pytest.mark.parametrize("name", ["wrangler.toml", "wrangler.json", "wrangler.jsonc"])
def test_env_uses_file_in_current_directory(tmp_path, name):
    text = {"wrangler.toml": TOML, "wrangler.jsonc": JSONC}.get(
        name, json.dumps(JSON_CONFIG)
    )
    write(tmp_path, name, text)
    options = options_for("--env", "staging")
    assert options.script == "shop-staging"
    assert options.account == STAGING_ACCOUNT
    assert (
        options.script_source == f"{name} in the current directory, environment staging"
    )


def test_jsonc_comments_and_trailing_commas(tmp_path):
    # The JSONC text has //, /* */ over lines, and trailing commas.
    assert "/* block" in JSONC
    assert '",\n' in JSONC
    path = write(tmp_path, "wrangler.jsonc", JSONC)
    options = options_for("--config", str(path), "--env", "production")
    assert options.script == "shop-live"
    assert options.account == TOP_ACCOUNT


def test_file_in_parent_directory_is_found(tmp_path, monkeypatch):
    write(tmp_path, "wrangler.toml", TOML)
    nested = tmp_path / "src" / "handlers"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    options = options_for()
    assert options.script == "shop"
    assert options.script_source == str(tmp_path / "wrangler.toml")


def test_json_in_parent_wins_over_toml_here(tmp_path, monkeypatch):
    """wrangler searches for each file name upwards, wrangler.json first."""
    write(tmp_path, "wrangler.json", json.dumps({"name": "from-json"}))
    nested = tmp_path / "app"
    nested.mkdir()
    write(nested, "wrangler.toml", 'name = "from-toml"\n')
    monkeypatch.chdir(nested)
    assert wrangler.find_config_upwards(nested) == tmp_path / "wrangler.json"
    assert options_for().script == "from-json"


def test_flags_win_and_note_says_so(tmp_path):
    path = write(tmp_path, "wrangler.toml", TOML)
    options = options_for(
        "--config", str(path), "--env", "staging", "--account", TOP_ACCOUNT, "other"
    )
    assert options.script == "other"
    assert options.account == TOP_ACCOUNT
    assert path.parent == Path.cwd()
    assert options.config_note == (
        "using wrangler.toml in the current directory, environment staging: "
        "Worker shop-staging not used (other "
        f"was given), account {STAGING_ACCOUNT} not used ({TOP_ACCOUNT} was given)"
    )


def test_file_without_name_or_account(tmp_path):
    path = write(tmp_path, "wrangler.toml", 'main = "src/index.ts"\n')
    options = options_for("--config", str(path))
    assert options.script is None
    assert path.parent == Path.cwd()
    assert options.config_note == (
        "using wrangler.toml in the current directory: no Worker name, no account id"
    )


def test_env_without_any_file(tmp_path):
    with pytest.raises(UserError) as caught:
        options_for("--env", "staging")
    message = str(caught.value)
    assert message.startswith("--env staging needs a wrangler file")
    assert "give --config PATH" in message


@pytest.mark.parametrize("suffix", ["toml", "json", "jsonc"])
def test_unknown_env_lists_environments(tmp_path, suffix):
    path = {p.suffix.lstrip("."): p for p in config_files(tmp_path)}[suffix]
    with pytest.raises(UserError) as caught:
        options_for("--config", str(path), "--env", "qa")
    message = str(caught.value)
    assert message.startswith(f"{path} has no environment 'qa'")
    assert "environments in it: bare, production, staging" in message


def test_env_on_file_without_environments(tmp_path):
    path = write(tmp_path, "wrangler.toml", 'name = "w"\n')
    with pytest.raises(UserError, match=r"environments in it: none"):
        options_for("--config", str(path), "--env", "dev")


BAD_CONFIGS = [
    # (file name, content, expected text after the path)
    (
        "wrangler.toml",
        'name = "w"\naccount_id = \n',
        ", line 2, column 14: invalid TOML",
    ),
    ("wrangler.toml", 'name = "w"\n\n[env.dev\n', ", line 3, column 9: invalid TOML"),
    ("wrangler.toml", 'name = "w"\nmain = "src\n', ", line 2, column 12: invalid TOML"),
    ("wrangler.toml", 'name = "w', ", line 1: invalid TOML: Unterminated string"),
    ("wrangler.json", '{\n  "name": "w",\n}\n', ", line 3: invalid JSON"),
    ("wrangler.jsonc", '{\n  // ok\n  "name": "w"\n  "main": 1\n}\n', ", line 4"),
    ("wrangler.jsonc", '{\n  "name": "w"\n}\n/* never closed\n', ", line 4: invalid"),
    ("wrangler.yaml", "name: w\n", ": unknown configuration format .yaml"),
]


@pytest.mark.parametrize(("name", "content", "expected"), BAD_CONFIGS)
def test_bad_config_is_one_line_exit_2(tmp_path, name, content, expected, capsys):
    path = write(tmp_path, name, content)
    code = main(["--headless", "--config", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert f"cf-livetail: {path}{expected}" in err


def test_missing_config_file(tmp_path, capsys):
    path = tmp_path / "nowhere" / "wrangler.toml"
    code = main(["--headless", "--config", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"cannot read {path}: No such file or directory" in err


def test_explicit_config_rejects_placeholder_account(tmp_path):
    path = write(tmp_path, "wrangler.toml", 'name = "w"\naccount_id = "<ID>"\n')
    with pytest.raises(UserError, match="invalid account id"):
        options_for("--config", str(path))


def test_headless_notes_file_and_environment(tmp_path, isolated_dirs):
    account = next(a["id"] for a in data.ACCOUNTS if a["name"] == "Acme Robotics")
    text = (
        f'name = "search"\n[env.live]\nname = "search-proxy"\n'
        f'account_id = "{account}"\n'
    )
    write(tmp_path, "wrangler.toml", text)
    result = subprocess.run(
        cli_command("--demo", "--headless", "--count", "1", "--env", "live"),
        env=cli_env(isolated_dirs),
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert (
        "cf-livetail: using wrangler.toml in the current directory, environment "
        f"live: Worker search-proxy, account {account}\n"
    ) in result.stderr
    assert json.loads(result.stdout)["script"] == "search-proxy"


def test_relative_config_path(tmp_path):
    (tmp_path / "conf").mkdir()
    write(tmp_path / "conf", "wrangler.jsonc", JSONC)
    options = options_for("--config", "conf/wrangler.jsonc")
    assert options.script == "shop"
    assert options.script_source == str(Path("conf/wrangler.jsonc"))
