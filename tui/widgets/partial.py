"""Repaint only the cells that changed, because every repaint is bytes over SSH.

When a widget refreshes, Textual writes every cell of it to the terminal
again, even where only one character changed. The helpers here render a
widget's content before and after a change, compare the two cell by cell,
and refresh only the span of each line that differs. A countdown going from
27 s to 26 s then sends one cell instead of a line.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import zip_longest

from rich.cells import cell_len
from rich.console import RenderableType
from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.visual import Visual, visualize
from textual.widget import Widget

Cell = tuple[str, Style | None]


def content_strips(widget: Widget, content: object) -> list[Strip]:
    """Render ``content`` as ``widget`` would, at the widget's current width."""
    visual = visualize(widget, content)
    return Visual.to_strips(
        widget, visual, widget.size.width, None, widget.visual_style
    )


def _cells(strip: Strip | None) -> list[Cell]:
    """Split a line into one (characters, style) pair per terminal cell."""
    cells: list[Cell] = []
    if strip is None:
        return cells
    for segment in strip:
        style = segment.style
        for char in segment.text:
            width = cell_len(char)
            if width == 0 and cells:
                # A combining character belongs to the cell before it.
                cells[-1] = (cells[-1][0] + char, style)
                continue
            cells.append((char, style))
            if width == 2:
                # The second cell of a wide character.
                cells.append(("", style))
    return cells


def changed_regions(before: list[Strip], after: list[Strip]) -> list[Region]:
    """Return, for each line that differs, the span from its first to last change.

    Regions are in content coordinates, as ``Widget.refresh`` takes them.
    """
    regions = []
    for y, (old, new) in enumerate(zip_longest(before, after)):
        if old == new:
            continue
        old_cells, new_cells = _cells(old), _cells(new)
        length = max(len(old_cells), len(new_cells))
        old_cells += [("", None)] * (length - len(old_cells))
        new_cells += [("", None)] * (length - len(new_cells))
        differing = [x for x in range(length) if old_cells[x] != new_cells[x]]
        if differing:
            start, end = differing[0], differing[-1]
            regions.append(Region(start, y, end - start + 1, 1))
    return regions


def _content_width(strips: list[Strip]) -> int:
    return max((strip.cell_length for strip in strips), default=0)


def repaint_changes(
    widget: Widget,
    apply: Callable[[], None],
    before: list[Strip] | None = None,
) -> list[Strip] | None:
    """Run ``apply``, which changes what ``widget.render()`` returns, and repaint.

    ``apply`` must change the widget's state without refreshing it (plain
    attributes, or ``set_reactive``). Only the cells whose character or style
    changed are repainted. A change of the content's height, or of its width
    for a widget sized by its content, lays the screen out again. ``before``
    saves rendering the old content when the caller kept its strips.

    Returns the strips of the new content, or None while the widget has no
    size to render them at.
    """
    width, height = widget.size
    if not widget.is_mounted or not width or not height:
        apply()
        widget.refresh(layout=True)
        return None
    if before is None:
        before = content_strips(widget, widget.render())
    apply()
    after = content_strips(widget, widget.render())
    resized = len(before) != len(after)
    if widget.styles.width is not None and widget.styles.width.is_auto:
        resized = resized or _content_width(before) != _content_width(after)
    if resized:
        widget.refresh(layout=True)
        return after
    regions = changed_regions(before, after)
    if regions:
        widget.refresh(*regions)
    return after


class PartialStatic(Widget):
    """Like ``Static``, but ``update`` repaints only the cells that changed."""

    DEFAULT_CSS = """
    PartialStatic {
        height: auto;
    }
    """

    def __init__(self, content: RenderableType = "", **kw) -> None:
        super().__init__(**kw)
        self._content: RenderableType = content
        # The strips of the content as last updated, and the (width, style)
        # they were rendered at, so that an update renders only the new one.
        self._strips: list[Strip] | None = None
        self._strips_key: tuple[int, object] | None = None

    @property
    def content(self) -> RenderableType:
        return self._content

    def render(self) -> RenderableType:
        return self._content

    def update(self, content: RenderableType) -> None:
        """Show ``content``. Text equal to the current content repaints nothing."""
        if isinstance(content, str | Text) and content == self._content:
            return

        def apply() -> None:
            self._content = content

        key = (self.size.width, self.visual_style)
        before = None
        if self._strips_key == key and self.text_selection is None:
            before = self._strips
        self._strips = repaint_changes(self, apply, before)
        self._strips_key = key if self._strips is not None else None
