"""The floor for the TUI figures: a bare Textual app that shows one Static.

It imports nothing from this repository, so its start-up time, memory, idle
CPU and terminal traffic are what Textual itself costs on this machine.
"""

from textual.app import App, ComposeResult
from textual.widgets import Static

FLOOR_TEXT = "cf-livetail floor: a bare Textual app with one Static"


class FloorApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Static(FLOOR_TEXT)


if __name__ == "__main__":
    FloorApp().run()
