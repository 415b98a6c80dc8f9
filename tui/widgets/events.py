"""The events pane: the live tail's events, a search box and the stream state.

Events arrive through ``add_event`` as fast as the stream delivers them, and
are drawn in batches: the first event of a batch starts a short timer, and
the list is redrawn once when it fires. So a thousand events a second cost a
few redraws a second, not a thousand.

Keys inside the pane: ``/`` searches, Escape in the search box clears it,
Enter opens the event under the cursor, and ``n`` or End follows the newest
event again. l edits the live tail's filters: the pane posts
``FiltersChanged``, and the screen prepares the live tail again. No key
here repeats one of the session screen's plain letters, because a binding
of the focused pane would hide the screen's.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input

from tui.events import EventLine
from tui.filters import FilterSet
from tui.widgets.event_list import EventList

DEFAULT_MAX_LINES = 5000
# Seconds between redraws while events arrive.
FLUSH_SECONDS = 0.1
# Seconds the search waits after the last key press before it runs.
SEARCH_DELAY = 0.15


class SearchInput(Input):
    """The search box; Escape clears and closes it."""

    BINDINGS = [Binding("escape", "close", "Clear search", id="events_search_close")]

    def action_close(self) -> None:
        pane = self._pane()
        if pane is not None:
            pane.close_search()

    def _pane(self) -> EventsPane | None:
        for ancestor in self.ancestors:
            if isinstance(ancestor, EventsPane):
                return ancestor
        return None


class EventsPane(Vertical):
    """Live-tail events, newest at the bottom, with search and details.

    Call ``add_event`` for each event and ``set_stream_state`` when the
    stream's state changes; both must run in the app's event loop.
    """

    BINDINGS = [
        Binding("slash", "search", "Search", id="events_search"),
        # A plain letter: tmux and many terminals send Shift+F as a bare "F".
        Binding("l", "edit_filters", "Live filters", id="events_filters"),
    ]

    DEFAULT_CSS = """
    EventsPane {
        height: 1fr;
        border: round $primary;
        border-subtitle-color: $text-muted;
    }
    EventsPane > #events-search {
        display: none;
        height: 1;
        padding: 0 1;
        margin: 0;
        border: none;
    }
    EventsPane > #events-search:focus {
        border: none;
    }
    EventsPane.-searching > #events-search {
        display: block;
    }
    """

    class FiltersChanged(Message):
        """The user applied new live-tail filters in the filter screen."""

        def __init__(self, filters: FilterSet):
            super().__init__()
            self.filters = filters

    def __init__(
        self,
        *,
        max_lines: int = DEFAULT_MAX_LINES,
        flush_seconds: float = FLUSH_SECONDS,
        filters: FilterSet | None = None,
        **kw,
    ):
        super().__init__(**kw)
        self.max_lines = max_lines
        self.flush_seconds = flush_seconds
        self.filters = filters or FilterSet([])
        self.stream_state = ""
        self._pending: list[EventLine] = []
        self._flush_timer: Timer | None = None
        self._search_timer: Timer | None = None
        # Events that arrived: every one, also those dropped before drawing.
        self.received = 0
        self.flushes = 0
        self._dropped_pending = 0
        self.border_title = "Events"

    def compose(self) -> ComposeResult:
        yield SearchInput(
            placeholder="search events (Escape clears)", id="events-search"
        )
        yield EventList(self.max_lines, id="events-list")

    @property
    def event_list(self) -> EventList:
        return self.query_one(EventList)

    def on_mount(self) -> None:
        if self._pending:
            self._schedule_flush()
        self._update_title()

    # -- feeding events --------------------------------------------------------

    def add_event(self, line: EventLine) -> None:
        """Queue one event; it is drawn with the next batch."""
        self.received += 1
        self._pending.append(line)
        if len(self._pending) > self.max_lines:
            # Only the newest max_lines could be shown after the flush anyway.
            excess = len(self._pending) - self.max_lines
            del self._pending[:excess]
            self._dropped_pending += excess
        if self._flush_timer is None and self.is_mounted:
            self._schedule_flush()

    def add_events(self, lines: list[EventLine]) -> None:
        for line in lines:
            self.add_event(line)

    def set_stream_state(self, text: str) -> None:
        """Show the stream's state under the pane."""
        self.stream_state = text
        self.border_subtitle = text

    def clear(self) -> None:
        self._pending.clear()
        self.event_list.clear()
        self._update_title()

    def show_events(self, lines: Iterable[EventLine], state_text: str = "") -> None:
        """Replace what the pane shows, for example with another session's ring."""
        self._pending.clear()
        self.event_list.clear()
        kept = list(lines)[-self.max_lines :]
        self.received = len(kept)
        self._dropped_pending = 0
        self.event_list.dropped = 0
        self.event_list.add_lines(kept)
        self.set_stream_state(state_text)
        self._update_title()

    def set_filters(self, filters: FilterSet) -> None:
        """Show these filters in the title and start the filter dialog from them."""
        self.filters = filters
        self._update_title()

    @property
    def dropped(self) -> int:
        """Events no longer in the pane because it keeps at most max_lines."""
        return self._dropped_pending + self.event_list.dropped

    @property
    def pending(self) -> int:
        """Events received but not drawn yet."""
        return len(self._pending)

    def _schedule_flush(self) -> None:
        self._flush_timer = self.set_timer(self.flush_seconds, self.flush)

    def flush(self) -> None:
        """Draw every queued event now."""
        self._flush_timer = None
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        self.flushes += 1
        self.event_list.add_lines(batch)
        self._update_title()

    # -- title -----------------------------------------------------------------

    def _update_title(self) -> None:
        events = self.event_list
        if events.search:
            title = f"Events · {events.shown:,} of {events.total:,} match"
        else:
            title = f"Events ({events.total:,})"
        if self.filters.filters:
            count = len(self.filters.filters)
            title += f" · {count} filter{'s' if count != 1 else ''}"
        if not events.following:
            title += f" · held, {events.waiting:,} new: End or n follows"
        self.border_title = title

    def on_event_list_follow_changed(self, message: EventList.FollowChanged) -> None:
        message.stop()
        self._update_title()

    # -- search ----------------------------------------------------------------

    def action_search(self) -> None:
        self.add_class("-searching")
        self.query_one(SearchInput).focus()

    def close_search(self) -> None:
        search = self.query_one(SearchInput)
        search.value = ""
        self._apply_search()
        self.remove_class("-searching")
        self.event_list.focus()

    def on_input_changed(self, message: Input.Changed) -> None:
        if message.input.id != "events-search":
            return
        message.stop()
        if self._search_timer is not None:
            self._search_timer.stop()
        self._search_timer = self.set_timer(SEARCH_DELAY, self._apply_search)

    def on_input_submitted(self, message: Input.Submitted) -> None:
        if message.input.id != "events-search":
            return
        message.stop()
        self._apply_search()
        self.event_list.focus()

    def _apply_search(self) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
            self._search_timer = None
        self.flush()
        self.event_list.set_search(self.query_one(SearchInput).value)
        self._update_title()

    # -- details and filters ---------------------------------------------------

    def on_event_list_chosen(self, message: EventList.Chosen) -> None:
        from tui.screens.event_detail import EventDetailScreen

        message.stop()
        self.app.push_screen(EventDetailScreen(message.line))

    def action_edit_filters(self) -> None:
        from tui.screens.filters import FiltersScreen

        def apply(result: FilterSet | None) -> None:
            if result is None:
                return
            self.filters = result
            self._update_title()
            self.post_message(self.FiltersChanged(result))

        self.app.push_screen(FiltersScreen(self.filters), apply)
