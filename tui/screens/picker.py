"""A filterable list screen, shared by the account and Worker pickers."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, OptionList, Static
from textual.widgets.option_list import Option


@dataclass(frozen=True)
class Choice:
    """One row of a picker: the value's key, its label and a dim detail."""

    key: str
    label: str
    detail: str = ""

    def matches(self, needle: str) -> bool:
        needle = needle.casefold()
        return needle in self.label.casefold() or needle in self.key.casefold()


class PickerScreen(Screen[None]):
    """A title, a context line, a filter box and a list of choices."""

    BINDINGS = [
        Binding("f5", "reload", "Reload", id="reload"),
        Binding("down", "focus_list", "List", show=False),
    ]

    title_text = ""
    filter_placeholder = "Type to filter"

    def __init__(self) -> None:
        super().__init__()
        self.choices: list[Choice] = []
        self.preselect: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="picker"):
            yield Static(self.title_text, id="picker-title")
            yield Static("", id="picker-context")
            yield Input(placeholder=self.filter_placeholder, id="picker-filter")
            yield OptionList(id="picker-list")
            yield Static("", id="picker-message")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#picker-filter", Input).focus()
        self.action_reload()

    def action_reload(self) -> None:
        raise NotImplementedError

    def action_focus_list(self) -> None:
        self.query_one("#picker-list", OptionList).focus()

    def set_context(self, text: Text | str) -> None:
        for widget in self.query("#picker-context").results(Static):
            widget.update(text)

    def set_message(self, text: str, error: bool = False) -> None:
        # query, not query_one: the screen may close while its list loads.
        for message in self.query("#picker-message").results(Static):
            message.update(Text(text, style="bold red" if error else "dim"))
            message.set_class(error, "error")

    def set_choices(self, choices: list[Choice], preselect: str | None = None) -> None:
        self.choices = choices
        self.preselect = preselect
        try:
            self._show(self.query_one("#picker-filter", Input).value)
        except NoMatches:
            # The screen was closed while its list was loading.
            return

    def _show(self, needle: str) -> None:
        option_list = self.query_one("#picker-list", OptionList)
        shown = (
            [c for c in self.choices if c.matches(needle)] if needle else self.choices
        )
        option_list.set_options(
            Option(self._prompt(choice), id=choice.key) for choice in shown
        )
        if not shown:
            return
        index = 0
        for position, choice in enumerate(shown):
            if choice.key == self.preselect:
                index = position
        option_list.highlighted = index

    @staticmethod
    def _prompt(choice: Choice) -> Text:
        prompt = Text(choice.label, style="bold")
        if choice.detail:
            prompt.append("  ")
            prompt.append(choice.detail, style="dim")
        return prompt

    def on_input_changed(self, event: Input.Changed) -> None:
        self._show(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        option_list = self.query_one("#picker-list", OptionList)
        if option_list.highlighted is not None and option_list.option_count:
            option = option_list.get_option_at_index(option_list.highlighted)
            if option.id is not None:
                self.choose(option.id)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:
            self.choose(event.option.id)

    def choose(self, key: str) -> None:
        raise NotImplementedError
