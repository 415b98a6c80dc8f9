"""The Worker picker for one account."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.binding import Binding

from tui.api import Account, ApiError, Script
from tui.logsetup import scrub
from tui.screens.picker import Choice, PickerScreen
from tui.text import short_id

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from tui.app import LiveTailApp


class ScriptScreen(PickerScreen):
    """Choose the Worker whose live tail to keep alive."""

    BINDINGS = [Binding("escape", "back", "Accounts", id="back")]
    filter_placeholder = "Type to filter Workers by name"

    def __init__(self, account: Account):
        super().__init__()
        self.account = account
        self.scripts: list[Script] = []
        self.title_text = "Choose a Worker"

    @property
    def livetail(self) -> LiveTailApp:
        return self.app  # type: ignore[return-value]

    def action_back(self) -> None:
        self.livetail.skip_pickers = False
        self.app.pop_screen()

    def action_reload(self) -> None:
        self.load_scripts()

    @work(exclusive=True, group="scripts")
    async def load_scripts(self) -> None:
        account = self.account
        context = Text("Account ", style="dim")
        context.append(account.name, style="bold")
        context.append(f" ({short_id(account.id)})", style="dim")
        self.set_context(context)
        self.set_message("Listing Workers…")
        client = self.livetail.new_client()
        try:
            scripts = await client.list_scripts(account.id)
        except ApiError as exc:
            app = self.livetail
            preselect = app.options.script
            if app.skip_pickers and preselect:
                # Only the picker needs the list (and Workers Scripts Read):
                # go on with the Worker the user named.
                log.warning(
                    "listing Workers failed in %s (%s); using Worker %s as given",
                    account.id,
                    scrub(exc.result.message),
                    preselect,
                )
                app.skip_pickers = False
                self.choose(preselect)
                return
            self.set_message(
                f"{exc.what} failed in {account.name} ({account.id}): "
                f"{exc.result.message}. Press F5 to try again or Escape to go back.",
                error=True,
            )
            return
        finally:
            await client.aclose()
        self.scripts = scripts
        self._present(scripts)

    def _present(self, scripts: list[Script]) -> None:
        app = self.livetail
        preselect, origin = app.preselected_script(self.account)
        choices = [
            Choice(
                s.id, s.id, f"modified {s.modified_on[:10]}" if s.modified_on else ""
            )
            for s in scripts
        ]
        self.set_choices(choices, preselect)
        names = {s.id for s in scripts}
        if not scripts:
            self.set_message(
                f"{self.account.name} has no Workers. Press Escape to choose "
                "another account.",
                error=True,
            )
            return
        if preselect and preselect not in names and origin != "the last session":
            self.set_message(
                f"Worker {preselect!r} (from {origin}) does not exist in account "
                f"{self.account.name} ({self.account.id}); choose one below.",
                error=True,
            )
            app.skip_pickers = False
            return
        note = f"{len(scripts)} Worker{'s' if len(scripts) != 1 else ''}."
        if preselect in names:
            note += f" {preselect} preselected from {origin}."
        self.set_message(note)
        if app.skip_pickers and preselect in names:
            app.skip_pickers = False
            self.choose(preselect)

    def choose(self, key: str) -> None:
        self.app.run_worker(
            self.livetail.script_chosen(self.account, key),
            group="navigate",
            exclusive=True,
        )
