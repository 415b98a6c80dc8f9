"""Command line entry point: parse flags, find credentials, pick a mode.

This module and everything the headless and list modes import stay free of
Textual, so scripts start fast. The TUI is imported only when it runs.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tui import __version__, tail_filters, wrangler
from tui.errors import UserError
from tui.tail_filters import TailFilters

log = logging.getLogger("tui")

EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, not a usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UserError(f"{message} (see cf-livetail --help)")


def _interval(text: str) -> float:
    from tui.engine import parse_interval

    try:
        return parse_interval(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"invalid count {text!r}: give a whole number of beats, 1 or more"
        )
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="cf-livetail",
        description=(
            "Keep a Cloudflare Workers live tail alive and watch its heartbeat. "
            "Credentials come from --api-token-file, CLOUDFLARE_API_TOKEN, "
            "CLOUDFLARE_API_KEY with CLOUDFLARE_EMAIL, the app's credentials file, "
            "or `wrangler login`."
        ),
    )
    parser.add_argument(
        "worker", nargs="?", metavar="WORKER", help="Worker (script) name, as --script"
    )
    parser.add_argument("--account", metavar="ID", help="account id (32 hex chars)")
    parser.add_argument("--script", metavar="NAME", help="Worker (script) name")
    parser.add_argument(
        "--interval",
        metavar="S",
        type=_interval,
        help="seconds between heartbeats, 1 to 3600 (default: settings, else 30)",
    )
    parser.add_argument(
        "--headless",
        action="store_true",
        help="no UI: print one line per heartbeat (needs --account and a Worker)",
    )
    parser.add_argument(
        "--count",
        metavar="N",
        type=_count,
        help="with --headless: stop after N heartbeats",
    )
    parser.add_argument(
        "--events",
        action="store_true",
        help="with --headless: also print every live-tail event, one line each",
    )
    parser.add_argument(
        "--format",
        choices=("json", "pretty"),
        help="with --headless or a list: one JSON object per line, or one readable "
        "line (default: pretty on a terminal, else json)",
    )
    parser.add_argument(
        "--list-accounts",
        action="store_true",
        help="print the accounts the credential can see, one line each",
    )
    parser.add_argument(
        "--list-scripts",
        action="store_true",
        help="print the Workers of --account, one line each",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="run against the built-in demo API on loopback (no account needed)",
    )
    parser.add_argument(
        "--base-url",
        metavar="URL",
        help="API base URL (default: CLOUDFLARE_API_BASE_URL, CLOUDFLARE_BASE_URL, "
        "else https://api.cloudflare.com/client/v4)",
    )
    parser.add_argument(
        "--api-token-file",
        metavar="PATH",
        type=Path,
        help="read the API token from this file (never pass a token as a flag)",
    )
    parser.add_argument(
        "--debug", action="store_true", help="log at debug level to the log file"
    )

    wrangler_group = parser.add_argument_group(
        "wrangler configuration",
        "Without these, the account and Worker may come from the wrangler.json, "
        "wrangler.jsonc or wrangler.toml that wrangler would use here.",
    )
    wrangler_group.add_argument(
        "--config",
        metavar="PATH",
        type=Path,
        help="read the Worker name and account id from this wrangler file",
    )
    wrangler_group.add_argument(
        "--env",
        metavar="NAME",
        help="use this environment of the wrangler file ([env.NAME])",
    )

    filter_group = parser.add_argument_group(
        "event filters, as in wrangler tail",
        "Repeated values of one flag match any of them; different flags must all "
        "match. Client-side filters check events after they arrive.",
    )
    tail_filters.add_server_flags(filter_group)
    tail_filters.add_client_flags(filter_group)
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    return parser


@dataclass
class Options:
    """Parsed flags plus what the environment adds."""

    args: argparse.Namespace
    base_url: str
    account: str | None
    account_source: str | None
    script: str | None
    script_source: str | None
    notices: list[str]
    filters: TailFilters = field(default_factory=TailFilters)
    # Which wrangler file and environment gave the account or Worker.
    config_note: str | None = None

    @property
    def skip_pickers(self) -> bool:
        """Whether the user named the account outright (not a preselection)."""
        return self.account_source in ("--account", "CLOUDFLARE_ACCOUNT_ID")


def _from_file(check, value: str, where: str) -> str:
    """Check a value read from a wrangler file; errors name the file."""
    try:
        return check(value)
    except UserError as exc:
        raise UserError(f"{where}: {exc}") from None


def resolve_options(
    args: argparse.Namespace, environ: os._Environ[str] | dict
) -> Options:
    from tui.api import (
        DEFAULT_BASE_URL,
        check_account_id,
        check_base_url,
        check_script_name,
    )

    if args.count is not None and not args.headless:
        raise UserError("--count works only with --headless")
    if args.events and not args.headless:
        raise UserError("--events works only with --headless")
    if args.list_accounts and args.list_scripts:
        raise UserError("use either --list-accounts or --list-scripts, not both")
    listing = args.list_accounts or args.list_scripts
    if args.format is not None and not (args.headless or listing):
        raise UserError(
            "--format works only with --headless, --list-accounts or --list-scripts"
        )
    _check_filter_flags(args, listing)

    base_url = check_base_url(_base_url_setting(args, environ, DEFAULT_BASE_URL))

    account, account_source = None, None
    if args.account:
        account, account_source = check_account_id(args.account), "--account"
    elif environ.get("CLOUDFLARE_ACCOUNT_ID", "").strip():
        account = check_account_id(environ["CLOUDFLARE_ACCOUNT_ID"])
        account_source = "CLOUDFLARE_ACCOUNT_ID"
    script, script_source = None, None
    if args.worker and args.script and args.worker != args.script:
        raise UserError(
            f"the Worker is named twice, {args.worker!r} and --script "
            f"{args.script!r}: give one of them"
        )
    if args.script:
        script, script_source = check_script_name(args.script), "--script"
    elif args.worker:
        script = check_script_name(args.worker)
        script_source = "the WORKER argument"

    notices: list[str] = []
    config_note = None
    explicit = args.config is not None or args.env is not None
    found = args.config or wrangler.find_config_upwards(Path.cwd())
    if found is None and explicit:
        raise UserError(
            f"--env {args.env} needs a wrangler file, but there is no "
            f"wrangler.json, wrangler.jsonc or wrangler.toml in {Path.cwd()} or "
            "its parent directories: give --config PATH"
        )
    if found is not None and (explicit or account is None or script is None):
        where = _config_location(found, args.env)
        try:
            config = wrangler.resolve(found, args.env)
            used = []
            if account is None and config.account_id:
                account = _from_file(check_account_id, config.account_id, where)
                account_source = where
                used.append("account")
            if script is None and config.name:
                script = _from_file(check_script_name, config.name, where)
                script_source = where
                used.append("Worker")
        except UserError as exc:
            if explicit:
                raise
            notices.append(f"ignored {where}: {exc}")
        else:
            config_note = _config_note(where, config, used, script, account)

    # A listing needs no session, with --headless or without it.
    if args.headless and not listing and (account is None or script is None):
        skipped = f" ({notices[0]})" if notices else ""
        raise UserError(
            "--headless needs --account ID (or CLOUDFLARE_ACCOUNT_ID) and a "
            "Worker (WORKER or --script NAME); list them with --list-accounts "
            f"and --list-scripts{skipped}"
        )
    if args.list_scripts and account is None:
        raise UserError("--list-scripts needs --account ID (or CLOUDFLARE_ACCOUNT_ID)")
    return Options(
        args,
        base_url,
        account,
        account_source,
        script,
        script_source,
        notices,
        filters=tail_filters.from_args(args),
        config_note=config_note,
    )


def _base_url_setting(
    args: argparse.Namespace, environ: os._Environ[str] | dict, default: str
) -> str:
    """Return the base URL from --base-url, else the environment, else ``default``.

    A set but blank value is an error rather than a reason to use the
    default, because the default is the production API.
    """
    if args.base_url is not None:
        if not args.base_url.strip():
            raise UserError(
                f"--base-url is empty: give the API base URL, such as {default}, "
                "or leave out --base-url"
            )
        return args.base_url
    # CLOUDFLARE_API_BASE_URL wins over CLOUDFLARE_BASE_URL.
    for name in ("CLOUDFLARE_API_BASE_URL", "CLOUDFLARE_BASE_URL"):
        if name not in environ:
            continue
        if not environ[name].strip():
            raise UserError(
                f"{name} is set but empty: set it to the API base URL, such as "
                f"{default}, or unset it"
            )
        return environ[name]
    return default


def _check_filter_flags(args: argparse.Namespace, listing: bool) -> None:
    """Reject filter flags where no events are shown."""
    used = tail_filters.used_filter_flags(args)
    if not used:
        return
    names = ", ".join(used)
    if listing:
        raise UserError(
            f"{names} filter live-tail events: use them with the app or with "
            "--headless --events"
        )
    if args.headless and not args.events:
        raise UserError(f"{names} filter live-tail events: add --events to print them")


def _config_location(path: Path, env_name: str | None) -> str:
    """Describe a wrangler file and environment for notes and preselections."""
    if path.resolve().parent == Path.cwd().resolve():
        where = f"{path.name} in the current directory"
    else:
        where = str(path)
    return f"{where}, environment {env_name}" if env_name else where


def _config_note(
    where: str,
    config: wrangler.WranglerConfig,
    used: list[str],
    script: str | None,
    account: str | None,
) -> str:
    """Say what a wrangler file gave, and what the command line overrode."""
    parts = []
    if "Worker" in used:
        parts.append(f"Worker {script}")
    elif config.name:
        parts.append(f"Worker {config.name} not used ({script} was given)")
    else:
        parts.append("no Worker name")
    if "account" in used:
        parts.append(f"account {account}")
    elif config.account_id:
        parts.append(f"account {config.account_id} not used ({account} was given)")
    else:
        parts.append("no account id")
    return f"using {where}: " + ", ".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        # Characters the locale cannot encode are escaped, not an error.
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    try:
        return _main(argv)
    except UserError as exc:
        _error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of stdout went away (for example `| head`). Exit quietly,
        # with stdout on /dev/null so the flush at exit has nowhere to fail.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:  # noqa: BLE001 - last resort: one line, stack in log
        log.exception("unexpected error")
        from tui import paths

        _error(
            f"unexpected error: {type(exc).__name__}: {exc} (details in "
            f"{paths.log_file()})"
        )
        return 1


def _error(message: str) -> None:
    from tui.logsetup import scrub

    print(f"cf-livetail: {scrub(message)}", file=sys.stderr, flush=True)


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    from tui.logsetup import setup_logging

    if setup_logging(debug=args.debug) is None:
        from tui import paths

        _error(f"cannot write the log file {paths.log_file()}; running without a log")
    wants_tui = not (args.headless or args.list_accounts or args.list_scripts)
    # textual serve runs the app over pipes with its web driver.
    served = bool(os.environ.get("TEXTUAL_DRIVER"))
    if wants_tui and not served and not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UserError(
            "the interactive app needs a terminal; for scripts and pipes use "
            "--headless --account ID --script NAME, or --list-accounts"
        )

    demo = None
    if args.demo and args.base_url is not None:
        raise UserError("--demo runs its own API on loopback; leave out --base-url")
    if args.demo and args.api_token_file:
        raise UserError("--demo uses its own credential; leave out --api-token-file")
    if args.demo:
        from tui.demo.server import DemoServer

        demo = DemoServer().start()
        args.base_url = demo.base_url
    try:
        return _run(args, demo)
    finally:
        if demo is not None:
            demo.stop()


def _run(args: argparse.Namespace, demo: object | None) -> int:
    from tui import credentials, settings
    from tui.logsetup import register_secret

    environ = dict(os.environ)
    if demo is not None:
        for name in ("CLOUDFLARE_BASE_URL", "CLOUDFLARE_API_BASE_URL"):
            environ.pop(name, None)
    options = resolve_options(args, environ)
    config = settings.load()
    if not wants_credential_screen(args):
        # The interactive app shows these as notifications instead.
        for notice in options.notices + config.notices:
            _error(notice)
        if options.config_note:
            _error(options.config_note)
    if args.interval is None:
        args.interval = config.interval

    if demo is not None:
        from tui.demo.server import DEMO_TOKEN

        credential = credentials.Credential.api_token(DEMO_TOKEN, "the demo API")
    elif wants_credential_screen(args):
        try:
            credential = credentials.resolve(args.api_token_file)
        except UserError as exc:
            if not str(exc).startswith("no Cloudflare credentials"):
                raise
            credential = None
    else:
        credential = credentials.resolve(args.api_token_file)
    if credential is not None:
        register_secret(credential.secret)
        log.info("using %s against %s", credential.description, options.base_url)

    if args.list_accounts or args.list_scripts:
        from tui import headless

        return headless.run_list(options, credential, config)
    if args.headless:
        from tui import headless

        return headless.run(options, credential, config)

    from tui.app import run_app

    return run_app(options, credential, config, demo=demo is not None)


def wants_credential_screen(args: argparse.Namespace) -> bool:
    """Return whether a missing credential opens the token screen (the TUI only)."""
    return not (args.headless or args.list_accounts or args.list_scripts)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
