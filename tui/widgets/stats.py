"""The countdown to the next beat, uptime figures, and recent latencies.

The countdown is the one thing on the idle screen that changes every second.
Textual writes a repainted line from the left edge of the widget that
contains the change, and renders every widget that shares the changed
widget's container, so the countdown's digits are a widget of their own in
this short row.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Sequence

from rich.segment import Segment
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from tui.stats import SessionStats
from tui.text import duration
from tui.widgets.partial import PartialStatic, repaint_changes

BARS = "▁▂▃▄▅▆▇█"


def sparkline_bars(values: Sequence[float], width: int) -> str:
    """Return one bar per value for the newest ``width`` values, scaled min to max."""
    newest = list(values)[-width:] if width > 0 else []
    if not newest:
        return ""
    low, high = min(newest), max(newest)
    extent = high - low or 1.0
    top = len(BARS) - 1
    return "".join(BARS[int((value - low) / extent * top)] for value in newest)


class LatencySparkline(Widget):
    """Recent latencies, one bar a beat with the newest on the right.

    All bars share one colour, so a repaint sends one escape sequence for the
    line rather than one per bar, as Textual's gradient ``Sparkline`` does.
    """

    DEFAULT_CSS = """
    LatencySparkline {
        height: 1;
        color: $primary;
    }
    """

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.values: list[float] = []

    def render(self) -> Text:
        return Text(sparkline_bars(self.values, self.size.width))

    def show(self, values: Sequence[float]) -> None:
        values = list(values)
        if values == self.values:
            return

        def apply() -> None:
            self.values = values

        repaint_changes(self, apply)


@functools.cache
def countdown_width(interval: float) -> int:
    """Return the longest countdown text, in cells, of a beat ``interval`` apart."""
    return max(len(duration(s)) for s in range(math.ceil(interval) + 1))


class Countdown(Widget):
    """One line of ASCII text that repaints only the characters that changed."""

    DEFAULT_CSS = """
    Countdown {
        height: 1;
        width: 4;
    }
    """

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.text = ""

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        text = self.text[:width].ljust(width) if y == 0 else " " * width
        return Strip([Segment(text, self.rich_style)], width)

    def show(self, text: str) -> None:
        old, self.text = self.text, text
        changed = [
            x
            for x in range(max(len(old), len(text)))
            if old[x : x + 1] != text[x : x + 1]
        ]
        if changed:
            start, end = changed[0], changed[-1]
            self.refresh(Region(start, 0, end - start + 1, 1))


class StatsBar(Horizontal):
    """The next beat's countdown, uptime share, longest outage, latency sparkline."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._countdown_label = PartialStatic(id="countdown-label")
        self._countdown = Countdown(id="countdown")
        self._uptime = PartialStatic("", id="uptime")
        self._sparkline = LatencySparkline(id="latency-sparkline")
        self._countdown_width = 0
        # The countdown's label, empty and hidden while no beat is due.
        self._label = ""
        self._countdown_label.display = False
        self._countdown.display = False

    def compose(self) -> ComposeResult:
        yield self._countdown_label
        yield self._countdown
        yield self._uptime
        yield self._sparkline

    def show_countdown(self, label: str, text: str, interval: float) -> None:
        """Show "next beat in 27 s", or hide the countdown when ``label`` is empty.

        The digits keep the width of the longest countdown of ``interval``,
        so that the row is not laid out again as they shrink.
        """
        if label != self._label:
            visible = bool(label)
            self._countdown_label.display = visible
            self._countdown.display = visible
            self._label = label
            self._countdown_label.update(Text(label, style="dim"))
        if not label:
            return
        width = max(countdown_width(interval), len(text))
        if width != self._countdown_width:
            self._countdown_width = width
            self._countdown.styles.width = width
        self._countdown.show(text)

    def show(self, stats: SessionStats | None) -> None:
        uptime = self._uptime
        sparkline = self._sparkline
        if stats is None or stats.total == 0:
            uptime.update(Text("No beats yet", style="dim"))
            sparkline.show([])
            return
        share = stats.uptime_share or 0.0
        text = Text("Uptime ", style="dim")
        text.append(
            f"{share:.1%}", style="bold green" if share >= 0.99 else "bold yellow"
        )
        text.append(f" of {stats.total} · longest outage ", style="dim")
        text.append(duration(stats.longest_outage(time.time())))
        if stats.latencies:
            recent = list(stats.latencies)
            text.append(" · latency ", style="dim")
            text.append(f"{min(recent):.0f}–{max(recent):.0f} ms")
        uptime.update(text)
        sparkline.show(stats.latencies)
