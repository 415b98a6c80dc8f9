"""Keys, credential sources, file locations and the request budget."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui import paths
from tui.budget import LIMIT
from tui.keys import BINDINGS, key_for

if TYPE_CHECKING:
    from tui.app import LiveTailApp

CREDENTIAL_SOURCES = (
    "--api-token-file PATH (a file holding only the token)",
    "CLOUDFLARE_API_TOKEN, or CLOUDFLARE_API_KEY with CLOUDFLARE_EMAIL",
    f"the credentials file {paths.credentials_file()} (mode 0600)",
    "the OAuth token stored by `wrangler login` (read-only)",
)


# Key names shown as the character they stand for.
KEY_SIGNS = {"slash": "/", "question_mark": "?", "comma": ",", "full_stop": "."}


class HelpScreen(ModalScreen[None]):
    """Everything a user needs to know without leaving the app."""

    BINDINGS = [
        Binding("escape", "close", "Close", id="help_close"),
        Binding("f1", "close", "Close", show=False, id="help_close_f1"),
        Binding("q", "close", "Close", show=False, id="help_close_q"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(self.render_help())

    def render_help(self) -> Table:
        app: LiveTailApp = self.app  # type: ignore[assignment]
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column()

        grid.add_row(Text("Keys", style="bold underline"), "")
        for binding_id, (_, description) in BINDINGS.items():
            keys = key_for(binding_id, app.keymap)
            # The id is the name to use in the [keys] table of the settings file.
            grid.add_row(
                ", ".join(KEY_SIGNS.get(key, key) for key in keys.split(",")),
                Text(description) + Text(f"  {binding_id}", style="dim"),
            )
        grid.add_row("ctrl+q, ctrl+c", "quit")
        grid.add_row("ctrl+p", "command palette")
        grid.add_row(
            "",
            Text(
                "Remap keys in the [keys] table of the settings file, by the id"
                " after each action.",
                style="dim",
            ),
        )

        grid.add_row("", "")
        grid.add_row(
            Text("Credentials", style="bold underline"), "tried in this order:"
        )
        for number, source in enumerate(CREDENTIAL_SOURCES, start=1):
            grid.add_row(f"{number}.", source)
        if app.credential is not None:
            grid.add_row("in use", app.credential.description)

        grid.add_row("", "")
        grid.add_row(Text("Files", style="bold underline"), "")
        grid.add_row("settings", str(paths.settings_file()))
        grid.add_row("credentials", str(paths.credentials_file()))
        grid.add_row("history", str(paths.history_db()))
        grid.add_row("log", str(paths.log_file()))

        grid.add_row("", "")
        grid.add_row(Text("Request budget", style="bold underline"), "")
        grid.add_row(
            "used",
            f"{app.budget.used()} of {LIMIT} requests in the last 5 minutes",
        )
        grid.add_row(
            "planned",
            f"{app.planned_requests():.0f} heartbeats per 5 minutes by "
            f"{len(app.sessions)} sessions; the app warns above 80% and never "
            "sends past the limit",
        )
        grid.add_row("", "")
        grid.add_row("", Text("Escape or F1 closes this help.", style="dim"))
        return grid

    def action_close(self) -> None:
        self.dismiss(None)
