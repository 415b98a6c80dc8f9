"""Paste an API token into a masked field and save it for next time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Static

from tui import paths
from tui.api import ApiError, CloudflareClient
from tui.credentials import NO_CREDENTIALS_HELP, Credential, save_token
from tui.errors import UserError
from tui.logsetup import register_secret

if TYPE_CHECKING:
    from tui.app import LiveTailApp


class TokenScreen(Screen[None]):
    """Ask for an API token; the field never shows what is typed."""

    BINDINGS = [Binding("escape", "cancel", "Back", id="cancel")]

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="token"):
            yield Static("Enter a Cloudflare API token", id="picker-title")
            yield Static(
                Text(
                    "Create one at dash.cloudflare.com > My Profile > API Tokens with "
                    'the "Workers Observability Write" and "Account Settings Read" '
                    f"permissions. It is saved to {paths.credentials_file()} "
                    "(readable only by you).",
                    style="dim",
                )
            )
            yield Input(password=True, placeholder="API token", id="token-input")
            yield Static("", id="picker-message")
        yield Footer()

    def on_mount(self) -> None:
        app: LiveTailApp = self.app  # type: ignore[assignment]
        if app.credential is None:
            self._message(NO_CREDENTIALS_HELP.split(":", 1)[0] + ".", error=True)
        self.query_one(Input).focus()

    def _message(self, text: str, error: bool = False) -> None:
        self.query_one("#picker-message", Static).update(
            Text(text, style="bold red" if error else "dim")
        )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        token = event.value.strip()
        event.input.value = ""
        self.check_and_save(token)

    @work(exclusive=True, group="token")
    async def check_and_save(self, token: str) -> None:
        """Verify the token with the API, and save it only if it works."""
        app: LiveTailApp = self.app  # type: ignore[assignment]
        path = paths.credentials_file()
        try:
            credential = Credential.api_token(token, f"credentials file {path}")
        except UserError as exc:
            self._message(str(exc), error=True)
            return
        if not token:
            self._message("the token is empty", error=True)
            return
        register_secret(token)
        self._message("Checking the token…")
        client = CloudflareClient(app.options.base_url, credential)
        try:
            await client.verify(app.options.account)
        except ApiError as exc:
            self._message(
                f"{exc.what} failed: {exc.result.message}. The token was not "
                "saved; check it and try again.",
                error=True,
            )
            return
        finally:
            await client.aclose()
        try:
            saved = save_token(token)
        except (UserError, OSError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            self._message(f"could not save the token: {reason}", error=True)
            return
        self.notify(f"Token verified and saved to {saved}", timeout=5)
        app.verified = True
        app.credential_ready(credential)

    def action_cancel(self) -> None:
        app: LiveTailApp = self.app  # type: ignore[assignment]
        if app.credential is None:
            app.exit(0)
        else:
            app.pop_screen()
