"""The live-tail event stream of a headless run (``--headless --events``).

Imported only when ``--events`` is given, because it loads the websockets
package, and the plain headless mode should start without it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from tui.credentials import Credential
from tui.engine import HeartbeatSession
from tui.events import EventLine, event_record
from tui.logsetup import scrub
from tui.session_stream import SessionStream


class HeadlessEvents:
    """Prints each event as a JSON line, and stream states on stderr."""

    def __init__(
        self,
        session: HeartbeatSession,
        base_url: str,
        credential: Credential,
        print_line: Callable[[dict[str, Any]], None],
        ca_bundle: str | None = None,
    ):
        self._print_line = print_line
        self.events = SessionStream(
            session,
            base_url=base_url,
            credential=credential,
            on_event=self._on_event,
            on_state=self._on_state,
            ca_bundle=ca_bundle,
        )

    def follow(self) -> None:
        """Start or move the stream; call it from the session's callbacks."""
        self.events.follow()

    async def stop(self) -> None:
        await self.events.stop()

    def _on_event(self, line: EventLine) -> None:
        self._print_line({"kind": "event", **event_record(line)})

    def _on_state(self, text: str) -> None:
        print(f"cf-livetail: event stream {scrub(text)}", file=sys.stderr, flush=True)
