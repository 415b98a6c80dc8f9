"""The account picker: verifies the credential, then lists every account."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.binding import Binding

from tui.api import Account, ApiError
from tui.logsetup import scrub
from tui.screens.picker import Choice, PickerScreen
from tui.text import short_id

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from tui.app import LiveTailApp


class AccountScreen(PickerScreen):
    """Choose the Cloudflare account whose Worker to tail."""

    BINDINGS = [
        Binding("f2", "enter_token", "Token", id="enter_token"),
        Binding("escape", "leave", "Sessions", id="leave_pickers"),
    ]
    title_text = "Choose an account"
    filter_placeholder = "Type to filter accounts by name or id"

    @property
    def livetail(self) -> LiveTailApp:
        return self.app  # type: ignore[return-value]

    def action_reload(self) -> None:
        self.load_accounts()

    def action_leave(self) -> None:
        self.livetail.leave_pickers()

    def action_enter_token(self) -> None:
        from tui.screens.token import TokenScreen

        self.app.push_screen(TokenScreen())

    @work(exclusive=True, group="accounts")
    async def load_accounts(self) -> None:
        app = self.livetail
        assert app.credential is not None
        described = app.credential.description
        self.set_context(Text(f"{described} · {app.options.base_url}", style="dim"))
        self.set_message("Checking the credential and listing accounts…")
        client = app.new_client()
        try:
            if not app.verified:
                await client.verify(app.options.account)
                app.verified = True
            accounts = await client.list_accounts()
            app.account_notes = client.account_notes()
        except ApiError as exc:
            preselect, _ = app.preselected_account()
            if app.verified and app.skip_pickers and preselect:
                # Only the picker needs the list (and Account Settings Read):
                # go on with the account the user named.
                log.warning(
                    "listing accounts failed (%s); using account %s as given",
                    scrub(exc.result.message),
                    preselect,
                )
                app.accounts = [Account(preselect, preselect)]
                self.choose(preselect)
                return
            self.set_message(
                f"{exc.what} failed for the {described}: {exc.result.message}. "
                "Press F5 to try again or F2 to enter another token.",
                error=True,
            )
            return
        finally:
            await client.aclose()
        app.accounts = accounts
        self._present(accounts)

    def _present(self, accounts: list[Account]) -> None:
        app = self.livetail
        preselect, origin = app.preselected_account()
        choices = [Choice(a.id, a.name, short_id(a.id)) for a in accounts]
        self.set_choices(choices, preselect)
        if not accounts:
            self.set_message(
                "The credential can see no accounts. A token needs at least "
                '"Account Settings Read"; press F2 to enter another token.',
                error=True,
            )
            return
        known = {a.id: a for a in accounts}
        note = f"{len(accounts)} account{'s' if len(accounts) != 1 else ''}."
        for extra in app.account_notes:
            note += f" Note: {extra}."
        if preselect and preselect in known:
            note += f" {known[preselect].name} preselected from {origin}."
        elif preselect and origin in ("--account", "CLOUDFLARE_ACCOUNT_ID"):
            self.set_message(
                f"Account {preselect} (from {origin}) is not among the accounts the "
                f"{app.credential.description if app.credential else 'credential'} "
                "can see; choose one below.",
                error=True,
            )
            app.skip_pickers = False
            return
        self.set_message(note)
        if app.skip_pickers and preselect in known:
            self.choose(preselect)

    def choose(self, key: str) -> None:
        app = self.livetail
        account = next((a for a in app.accounts if a.id == key), None)
        if account is not None:
            app.account_chosen(account)
