"""Headless mode: the same engine as the TUI, one line per heartbeat or event.

Stdout carries only those lines (JSON, or readable text with ``--format
pretty``). Start-up notes and errors go to stderr.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sys
from typing import TYPE_CHECKING, Any

from tui import paths
from tui.api import ApiError, CloudflareClient
from tui.credentials import Credential
from tui.engine import HeartbeatSession, State
from tui.errors import UserError
from tui.history import Beat, HistoryError, HistoryStore
from tui.logsetup import scrub
from tui.output import LineWriter, default_format, use_color
from tui.text import iso_utc, plural

if TYPE_CHECKING:
    from tui.cli import Options
    from tui.headless_events import HeadlessEvents

EXIT_FATAL_OUTCOME = 3
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def beat_record(beat: Beat, account_id: str, script: str) -> dict[str, Any]:
    record: dict[str, Any] = {
        "time": iso_utc(beat.time),
        "account_id": account_id,
        "script": script,
        "ok": beat.ok,
        "http_status": beat.http_status,
        "latency_ms": beat.latency_ms,
        "outcome": beat.outcome,
        "message": scrub(beat.message),
    }
    if beat.ray:
        record["cf_ray"] = beat.ray
    if beat.gap_s:
        record["gap_s"] = beat.gap_s
    return record


def make_writer(options: Options) -> LineWriter:
    """Return the writer for ``--format``, or for what stdout is when it is unset."""
    fmt = options.args.format or default_format(sys.stdout)
    return LineWriter(fmt, color=use_color(sys.stdout, os.environ))


def _note(message: str) -> None:
    print(f"cf-livetail: {scrub(message)}", file=sys.stderr, flush=True)


def _verify_error(exc: ApiError, credential: Credential) -> UserError:
    return UserError(
        f"{exc.what} failed for the {credential.description}: {exc.result.message}"
    )


def _prepare_retry_note(session: HeartbeatSession) -> str:
    """Describe a failed attempt to prepare the live tail, and the next one."""
    wait = session.seconds_to_next()
    retry = f"retrying in {wait:.1f} s" if wait is not None else "retrying"
    return (
        f"preparing the live tail failed (attempt {session.failures}): "
        f"{session.last_error}; {retry}"
    )


def run_list(options: Options, credential: Credential | None, config: Any) -> int:
    """Print accounts or scripts, one line each."""
    assert credential is not None
    return asyncio.run(_list(options, credential, config))


async def _list(options: Options, credential: Credential, config: Any) -> int:
    writer = make_writer(options)
    async with CloudflareClient(
        options.base_url, credential, ca_bundle=config.ca_bundle
    ) as client:
        try:
            if options.args.list_accounts:
                for account in await client.list_accounts():
                    writer.item(
                        {"id": account.id, "name": account.name},
                        f"{account.id}  {account.name}",
                    )
                for note in client.account_notes():
                    _note(note)
            else:
                assert options.account is not None
                for script in await client.list_scripts(options.account):
                    modified = f"  modified {script.modified_on}"
                    writer.item(
                        {
                            "id": script.id,
                            "name": script.id,
                            "modified_on": script.modified_on,
                        },
                        script.id + (modified if script.modified_on else ""),
                    )
                if client.skipped_scripts:
                    _note(
                        f"left out {plural(client.skipped_scripts, 'Worker')} whose "
                        "name is missing or invalid in the API's reply"
                    )
        except ApiError as exc:
            raise _verify_error(exc, credential) from None
    return 0


def run(options: Options, credential: Credential | None, config: Any) -> int:
    assert credential is not None
    return asyncio.run(_run(options, credential, config))


async def _run(options: Options, credential: Credential, config: Any) -> int:
    assert options.account is not None and options.script is not None
    account_id, script = options.account, options.script
    count = options.args.count
    client = CloudflareClient(options.base_url, credential, ca_bundle=config.ca_bundle)
    try:
        await client.verify(account_id)
    except ApiError as exc:
        await client.aclose()
        raise _verify_error(exc, credential) from None
    try:
        store = HistoryStore(paths.history_db())
    except HistoryError as exc:
        await client.aclose()
        raise UserError(str(exc)) from None
    if store.notice:
        _note(store.notice)

    done = asyncio.Event()
    fatal = False
    writer = make_writer(options)
    # With --events, every JSON line has a "kind": "heartbeat" or "event".
    kind = {"kind": "heartbeat"} if options.args.events else {}
    events: HeadlessEvents | None = None
    filters = options.filters

    output_error: BaseException | None = None
    prepare_failures = 0

    def stop_on_output_error(exc: BaseException) -> None:
        # Stop cleanly; the error is raised again once the session stopped.
        nonlocal output_error
        if output_error is None:
            output_error = exc
        done.set()

    def on_beat(beat: Beat) -> None:
        if prepare_failures and session.beats_sent == 1:
            _note(
                f"live tail prepared after {plural(prepare_failures, 'failed attempt')}"
            )
        try:
            writer.heartbeat({**kind, **beat_record(beat, account_id, script)})
        except (BrokenPipeError, UserError) as exc:
            stop_on_output_error(exc)
            return
        if events is not None:
            events.follow()
        if count is not None and session.beats_sent >= count:
            done.set()

    def on_status(current: HeartbeatSession) -> None:
        nonlocal fatal
        if events is not None:
            events.follow()
        if current.state is State.FAILED:
            fatal = True
            done.set()
        elif current.state is State.RETRYING and current.beats_sent == 0:
            # Stdout gets a line per beat, and no beat goes out until the
            # live tail is prepared, so stderr explains why stdout stays empty.
            nonlocal prepare_failures
            prepare_failures += 1
            _note(_prepare_retry_note(current))

    session = HeartbeatSession(
        client,
        account_id,
        account_id,
        script,
        options.args.interval,
        store=store,
        on_beat=on_beat,
        on_status=on_status,
        filters=filters.server,
    )
    if options.args.events:
        # Imported only here: it loads the websockets package.
        from tui.headless_events import HeadlessEvents

        events = HeadlessEvents(
            session,
            options.base_url,
            credential,
            writer.event,
            config.ca_bundle,
            client_filter=filters.client,
            on_output_error=stop_on_output_error,
        )
    loop = asyncio.get_running_loop()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, done.set)
    _note(
        f"{credential.description} verified; sending a heartbeat for {script} in "
        f"account {account_id} every {session.interval:g} s"
    )
    for line in filters.describe():
        _note(line)
    session.start()
    try:
        await done.wait()
    finally:
        failed_before_beat = fatal and session.beats_sent == 0
        last = session.last_result
        if events is not None:
            await events.stop()
        await session.stop()
        store.close()
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)
    if output_error is not None:
        raise output_error
    if events is not None and filters.client.active:
        seen = events.kept + events.filtered_out
        _note(
            f"client-side filters ({filters.client.describe()}) kept "
            f"{events.kept} of {seen} events"
        )
    if failed_before_beat and last is not None:
        # Preparing the tail failed: print it as a line like a beat would be.
        writer.heartbeat(
            {
                **kind,
                "time": iso_utc(dt.datetime.now(dt.UTC).timestamp()),
                "account_id": account_id,
                "script": script,
                "ok": False,
                "http_status": last.http_status,
                "latency_ms": last.latency_ms,
                "outcome": last.outcome,
                "message": scrub(
                    f"preparing the live tail failed: {session.last_error}"
                ),
                "stage": "prepare",
            }
        )
    if fatal:
        _note(f"stopped: {session.last_error}")
        return EXIT_FATAL_OUTCOME
    return 0
