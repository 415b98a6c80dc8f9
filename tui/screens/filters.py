"""A dialog that builds the live tail's filter list, one row per filter.

Each row is a key (such as ``$workers.outcome``), an operation, a type and a
value. The rows combine with "and" (every filter must match) or "or" (any
one). Apply checks every row and lists each problem; a row left entirely
blank is skipped. The dialog returns a ``FilterSet``, or None when cancelled.
Nested filter groups that came in are kept unchanged, because the dialog
edits only plain filters.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, Select, Static

from tui.filters import (
    COMMON_KEYS,
    FILTER_TYPES,
    OPERATIONS,
    VALUELESS,
    FilterError,
    FilterSet,
    make_leaf,
)

# The operations offered, in the order of the drop-down.
OPERATION_CHOICES = (
    ("eq", "equals"),
    ("neq", "does not equal"),
    ("includes", "includes"),
    ("not_includes", "does not include"),
    ("starts_with", "starts with"),
    ("ends_with", "ends with"),
    ("regex", "matches regex"),
    ("in", "is one of (a,b,c)"),
    ("not_in", "is none of (a,b,c)"),
    ("gt", "greater than"),
    ("gte", "at least"),
    ("lt", "less than"),
    ("lte", "at most"),
    ("exists", "exists"),
    ("is_null", "does not exist"),
)
COMBINATION_CHOICES = (("all of them (and)", "and"), ("any of them (or)", "or"))


class FilterRow(Horizontal):
    """One editable filter: key, operation, type, value and a remove button."""

    DEFAULT_CSS = """
    FilterRow {
        height: auto;
    }
    FilterRow > .filter-key {
        width: 2fr;
    }
    FilterRow > .filter-operation {
        width: 24;
    }
    FilterRow > .filter-type {
        width: 14;
    }
    FilterRow > .filter-value {
        width: 1fr;
    }
    FilterRow > .filter-remove {
        min-width: 5;
        width: 5;
    }
    """

    def __init__(self, leaf: dict[str, Any] | None = None):
        super().__init__(classes="filter-row")
        self.leaf = leaf or {}

    def compose(self) -> ComposeResult:
        leaf = self.leaf
        operation = OPERATIONS.get(str(leaf.get("operation", "eq")), "eq")
        kind = leaf.get("type", "string")
        value = leaf.get("value")
        yield Input(
            value=str(leaf.get("key", "")),
            placeholder="key, e.g. $workers.outcome",
            suggester=SuggestFromList(COMMON_KEYS, case_sensitive=False),
            classes="filter-key",
        )
        yield Select(
            [(label, name) for name, label in OPERATION_CHOICES],
            value=operation,
            allow_blank=False,
            classes="filter-operation",
        )
        yield Select(
            [(name, name) for name in FILTER_TYPES],
            value=kind if kind in FILTER_TYPES else "string",
            allow_blank=False,
            classes="filter-type",
        )
        yield Input(
            value=_value_text(value),
            placeholder="value",
            classes="filter-value",
        )
        yield Button("✕", classes="filter-remove", tooltip="Remove this filter")

    def values(self) -> tuple[str, str, str, str]:
        """Return the row's key, operation, type and value as entered."""
        key = self.query_one(".filter-key", Input).value
        operation = self.query_one(".filter-operation", Select).value
        kind = self.query_one(".filter-type", Select).value
        value = self.query_one(".filter-value", Input).value
        return key, str(operation), str(kind), value

    def is_blank(self) -> bool:
        key, operation, _, value = self.values()
        return not key.strip() and (not value.strip() or operation in VALUELESS)

    @on(Button.Pressed, ".filter-remove")
    def remove_row(self, event: Button.Pressed) -> None:
        event.stop()
        self.remove()


class FiltersScreen(ModalScreen[FilterSet | None]):
    """Returns the new filters, or None when cancelled."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="filters_cancel"),
        Binding("ctrl+n", "add_row", "Add filter", id="filters_add"),
    ]

    DEFAULT_CSS = """
    FiltersScreen {
        align: center middle;
    }
    #filters-dialog {
        width: 110;
        max-width: 100%;
        height: auto;
        max-height: 90%;
        border: thick $primary;
        background: $surface;
        padding: 0 1;
    }
    #filters-combination-row {
        height: auto;
    }
    #filters-combination-row > Label {
        padding: 1 1 0 0;
    }
    #filters-combination {
        width: 28;
    }
    #filters-rows {
        height: auto;
        max-height: 16;
    }
    #filters-buttons {
        height: auto;
    }
    #filters-message {
        height: auto;
        min-height: 1;
    }
    #filters-message.error {
        color: $error;
    }
    """

    def __init__(self, current: FilterSet | None = None):
        super().__init__()
        current = current or FilterSet([])
        self.combination = current.combination.lower()
        self.leaves = [f for f in current.filters if f.get("kind") != "group"]
        # Groups are returned as they came, after the rows.
        self.groups = [f for f in current.filters if f.get("kind") == "group"]

    def compose(self) -> ComposeResult:
        with Vertical(id="filters-dialog"):
            with Horizontal(id="filters-combination-row"):
                yield Label("Events must match")
                yield Select(
                    COMBINATION_CHOICES,
                    value=self.combination if self.combination == "or" else "and",
                    allow_blank=False,
                    id="filters-combination",
                )
            with VerticalScroll(id="filters-rows"):
                for leaf in self.leaves or [{}]:
                    yield FilterRow(leaf)
            if self.groups:
                yield Static(
                    f"{len(self.groups)} nested filter group(s) are kept unchanged.",
                    id="filters-groups",
                )
            with Horizontal(id="filters-buttons"):
                yield Button("Add filter", id="filters-add")
                yield Button("Apply", id="filters-apply", variant="primary")
                yield Button("Clear all", id="filters-clear")
                yield Button("Cancel", id="filters-cancel")
            yield Static(
                "Enter applies, Escape cancels. Blank rows are skipped.",
                id="filters-message",
            )

    def on_mount(self) -> None:
        dialog = self.query_one("#filters-dialog", Vertical)
        dialog.border_title = "Live-tail filters"
        self.query(".filter-key").first(Input).focus()

    def rows(self) -> list[FilterRow]:
        return list(self.query(FilterRow))

    async def action_add_row(self) -> None:
        row = FilterRow()
        await self.query_one("#filters-rows", VerticalScroll).mount(row)
        row.query_one(".filter-key", Input).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#filters-add")
    async def _add_pressed(self) -> None:
        await self.action_add_row()

    @on(Button.Pressed, "#filters-cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    @on(Button.Pressed, "#filters-clear")
    async def _clear_pressed(self) -> None:
        await self.query(FilterRow).remove()
        await self.query("#filters-groups").remove()
        self.groups = []
        await self.action_add_row()

    @on(Button.Pressed, "#filters-apply")
    def _apply_pressed(self) -> None:
        self.apply()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.apply()

    def collect(self) -> tuple[FilterSet | None, list[str]]:
        """Build the filter set from the rows; return it or the problems."""
        leaves: list[dict[str, Any]] = []
        problems: list[str] = []
        for number, row in enumerate(self.rows(), start=1):
            if row.is_blank():
                continue
            try:
                leaves.append(make_leaf(*row.values()))
            except FilterError as exc:
                problems.append(f"Filter {number}: {exc}")
        if problems:
            return None, problems
        combination = str(self.query_one("#filters-combination", Select).value)
        return FilterSet([*leaves, *self.groups], combination), []

    def apply(self) -> None:
        result, problems = self.collect()
        message = self.query_one("#filters-message", Static)
        if result is None:
            message.update("\n".join(problems))
            message.add_class("error")
            return
        self.dismiss(result)


def _value_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
