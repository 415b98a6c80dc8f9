"""Recent latencies as a sparkline, and the session's uptime figures."""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Sparkline, Static

from tui.stats import SessionStats
from tui.text import duration


class StatsBar(Horizontal):
    """A latency sparkline beside uptime share and longest outage."""

    def compose(self) -> ComposeResult:
        yield Static("", id="uptime")
        yield Static("", id="countdown")
        yield Sparkline([], id="latency-sparkline")

    def show_countdown(self, text: str) -> None:
        """Update the countdown; only this one line repaints each second."""
        countdown = self.query_one("#countdown", Static)
        if str(countdown.render()) != text:
            countdown.update(text)

    def show(self, stats: SessionStats | None) -> None:
        uptime = self.query_one("#uptime", Static)
        sparkline = self.query_one(Sparkline)
        if stats is None or stats.total == 0:
            uptime.update(Text("No beats yet", style="dim"))
            sparkline.data = []
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
        sparkline.data = list(stats.latencies)
