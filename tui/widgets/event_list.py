"""A scrolling list of live-tail events, drawn line by line (Textual's Line API).

Only the rows on screen are rendered, so the list stays cheap with thousands
of events. It follows the newest event at the bottom until the user moves
the cursor or scrolls up. Then the view stays still and counts what arrives
below.
It keeps at most ``max_lines`` events, dropping the oldest.
"""

from __future__ import annotations

import time

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.events import EventLine, matches, search_terms

LEVEL_STYLES = {
    "error": "bold red",
    "warn": "yellow",
    "info": "cyan",
    "log": "",
    "debug": "dim",
}
MESSAGE_STYLES = {"error": "red", "warn": "yellow", "debug": "dim"}
EXCEPTION_STYLE = "bold white on red"
OUTCOME_STYLE = "bold red"
MATCH_STYLE = "bold black on yellow"
CURSOR_STYLE = Style(reverse=True)
# Rendered rows kept between refreshes; a screen shows far fewer.
RENDER_CACHE_SIZE = 512


def format_line(line: EventLine, terms: list[str] | None = None) -> Text:
    """Return one event as a display line: time, level, outcome and message."""
    local = time.localtime(line.time)
    millis = int((line.time % 1) * 1000)
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    text.append(time.strftime("%H:%M:%S", local) + f".{millis:03d} ", style="dim")
    if line.exception:
        text.append(" EXC ", style=EXCEPTION_STYLE)
    else:
        text.append(f"{line.level.upper():<5}", style=LEVEL_STYLES.get(line.level, ""))
    text.append(" ")
    if line.outcome and line.outcome not in ("ok", "exception"):
        text.append(f"[{line.outcome}] ", style=OUTCOME_STYLE)
    message_style = "red" if line.exception else MESSAGE_STYLES.get(line.level, "")
    text.append(line.message, style=message_style)
    if terms:
        text.highlight_words(terms, MATCH_STYLE, case_sensitive=False)
    return text


class EventList(ScrollView, can_focus=True):
    """Events oldest first; the cursor row is the one Enter opens."""

    BINDINGS = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "Oldest", show=False),
        Binding("end,n", "follow", "Follow", id="events_follow"),
        Binding("enter", "choose", "Details", id="events_details"),
    ]

    DEFAULT_CSS = """
    EventList {
        height: 1fr;
        overflow-x: hidden;
        overflow-y: auto;
    }
    """

    class Chosen(Message):
        """The user pressed Enter on an event."""

        def __init__(self, line: EventLine):
            super().__init__()
            self.line = line

    class FollowChanged(Message):
        """The list started or stopped following the newest event."""

    def __init__(self, max_lines: int, **kw):
        super().__init__(**kw)
        if max_lines < 1:
            raise ValueError(f"max_lines {max_lines} must be at least 1")
        self.max_lines = max_lines
        self._all: list[EventLine] = []
        # The events that match the search: the same list as _all without one.
        self._matching: list[EventLine] = self._all
        self._search = ""
        self._terms: list[str] = []
        self.cursor = -1
        self.following = True
        # Events shown below the held view since the list stopped following.
        self.waiting = 0
        # Events dropped because the list was full.
        self.dropped = 0
        self._cache: LRUCache[tuple[EventLine, int, bool], Strip] = LRUCache(
            RENDER_CACHE_SIZE
        )

    # -- content -------------------------------------------------------------

    @property
    def total(self) -> int:
        return len(self._all)

    @property
    def shown(self) -> int:
        return len(self._matching)

    @property
    def search(self) -> str:
        return self._search

    def line_at(self, index: int) -> EventLine | None:
        if 0 <= index < len(self._matching):
            return self._matching[index]
        return None

    @property
    def cursor_line(self) -> EventLine | None:
        return self.line_at(self.cursor)

    def add_lines(self, lines: list[EventLine]) -> None:
        """Append a batch of events, drop the oldest past max_lines, redraw once."""
        if not lines:
            return
        self._all.extend(lines)
        added = lines
        if self._matching is not self._all:
            added = [line for line in lines if matches(line, self._search)]
            self._matching.extend(added)
        removed_shown = self._trim()
        if self.following:
            self.cursor = len(self._matching) - 1
        else:
            self.waiting += len(added)
            self.cursor = max(0, self.cursor - removed_shown)
            if removed_shown:
                # Keep the same events in view although rows left the top.
                self._scroll_y_to(max(0, self.scroll_y - removed_shown))
        self._update_size()
        if self.following:
            self._scroll_to_end()
        self.refresh()

    def clear(self) -> None:
        self._all.clear()
        self._matching = self._all if not self._search else []
        self.cursor = -1
        self.waiting = 0
        self._cache.clear()
        self._update_size()
        self.refresh()

    def set_search(self, text: str) -> None:
        """Show only the events that match ``text``, and highlight the terms."""
        text = text.strip()
        if text == self._search:
            return
        self._search = text
        self._terms = search_terms(text)
        if self._terms:
            self._matching = [line for line in self._all if matches(line, text)]
        else:
            self._matching = self._all
        self._cache.clear()
        self.waiting = 0
        self._set_following(True)
        self.cursor = len(self._matching) - 1
        self._update_size()
        self._scroll_to_end()
        self.refresh()

    def _trim(self) -> int:
        """Drop events past max_lines; return how many shown rows left the top."""
        excess = len(self._all) - self.max_lines
        if excess <= 0:
            return 0
        self.dropped += excess
        if self._matching is self._all:
            del self._all[:excess]
            return excess
        dropped_ids = {id(line) for line in self._all[:excess]}
        del self._all[:excess]
        removed = 0
        while (
            removed < len(self._matching) and id(self._matching[removed]) in dropped_ids
        ):
            removed += 1
        del self._matching[:removed]
        return removed

    def _update_size(self) -> None:
        width = max(1, self.scrollable_content_region.width)
        self.virtual_size = Size(width, len(self._matching))

    # -- rendering -----------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        style = self.rich_style
        if not 0 <= index < len(self._matching):
            return Strip.blank(width, style)
        line = self._matching[index]
        is_cursor = index == self.cursor and self.has_focus
        key = (line, width, is_cursor)
        strip = self._cache.get(key)
        if strip is None:
            text = format_line(line, self._terms)
            if is_cursor:
                text.stylize(CURSOR_STYLE)
            # The widget's own colours go under the line's, as its background.
            segments = Segment.apply_style(text.render(self.app.console), style)
            strip = Strip(segments).crop_extend(0, width, style)
            self._cache[key] = strip
        return strip.apply_offsets(scroll_x, index)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    def on_resize(self, event: events.Resize) -> None:
        self._cache.clear()
        self._update_size()
        if self.following:
            self._scroll_to_end()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    # -- following and the cursor ----------------------------------------------

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        at_end = new_value >= self.max_scroll_y - 0.5
        if at_end and not self.following:
            self._set_following(True)
        elif not at_end and self.following:
            self._set_following(False)

    def _set_following(self, following: bool) -> None:
        if following == self.following:
            return
        self.following = following
        if following:
            self.waiting = 0
        self.post_message(self.FollowChanged())

    def _move_cursor(self, index: int) -> None:
        if not self._matching:
            return
        last = len(self._matching) - 1
        self.cursor = max(0, min(last, index))
        if self.cursor == last:
            self._set_following(True)
            self._scroll_to_end()
        else:
            self._set_following(False)
            self._scroll_cursor_into_view()
        self.refresh()

    def _scroll_y_to(self, y: float) -> None:
        # force: before the next layout the scrollbar may not exist yet, and
        # without it Textual ignores a scroll.
        self.scroll_to(y=y, animate=False, immediate=True, force=True)

    def _scroll_to_end(self) -> None:
        self._scroll_y_to(self.max_scroll_y)

    def _scroll_cursor_into_view(self) -> None:
        height = max(1, self.scrollable_content_region.height)
        top = round(self.scroll_y)
        if self.cursor < top:
            self._scroll_y_to(self.cursor)
        elif self.cursor >= top + height:
            self._scroll_y_to(self.cursor - height + 1)

    def action_cursor_up(self) -> None:
        self._move_cursor(self.cursor - 1)

    def action_cursor_down(self) -> None:
        self._move_cursor(self.cursor + 1)

    def action_page_up(self) -> None:
        self._move_cursor(self.cursor - max(1, self.scrollable_content_region.height))

    def action_page_down(self) -> None:
        self._move_cursor(self.cursor + max(1, self.scrollable_content_region.height))

    def action_first(self) -> None:
        self._move_cursor(0)

    def action_follow(self) -> None:
        """Jump to the newest event and follow the tail again."""
        self.waiting = 0
        self._move_cursor(len(self._matching) - 1)

    def action_choose(self) -> None:
        line = self.cursor_line
        if line is not None:
            self.post_message(self.Chosen(line))

    def on_click(self, event: events.Click) -> None:
        index = round(self.scroll_y) + event.y
        if 0 <= index < len(self._matching):
            self._move_cursor(index)
            if event.chain == 2:
                self.action_choose()
