"""The live-tail event stream of a headless run (``--headless --events``).

Imported only when ``--events`` is given, because it loads the websockets
package, and the plain headless mode should start without it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from tui.client_filter import ClientFilter
from tui.credentials import Credential
from tui.engine import HeartbeatSession
from tui.errors import UserError
from tui.events import EventLine
from tui.logsetup import scrub
from tui.session_stream import SessionStream


class HeadlessEvents:
    """Writes each event that passes the client-side filter, and stream states
    on stderr."""

    def __init__(
        self,
        session: HeartbeatSession,
        base_url: str,
        credential: Credential,
        write_event: Callable[[EventLine], None],
        ca_bundle: str | None = None,
        client_filter: ClientFilter | None = None,
        on_output_error: Callable[[BaseException], None] | None = None,
    ):
        self._write_event = write_event
        self._on_output_error = on_output_error
        # The first error writing to stdout; no event is written after it.
        self.output_error: BaseException | None = None
        self.events = SessionStream(
            session,
            base_url=base_url,
            credential=credential,
            on_event=self._on_event,
            on_state=self._on_state,
            ca_bundle=ca_bundle,
            client_filter=client_filter,
        )

    def follow(self) -> None:
        """Start or move the stream; call it from the session's callbacks."""
        self.events.follow()

    async def stop(self) -> None:
        await self.events.stop()

    @property
    def kept(self) -> int:
        """Events that passed the client-side filter."""
        return self.events.stream.received

    @property
    def filtered_out(self) -> int:
        """Events that the client-side filter dropped."""
        return self.events.stream.filtered_out

    def _on_event(self, line: EventLine) -> None:
        if self.output_error is not None:
            return
        try:
            self._write_event(line)
        except (BrokenPipeError, UserError) as exc:
            self.output_error = exc
            if self._on_output_error is not None:
                self._on_output_error(exc)

    def _on_state(self, text: str) -> None:
        print(f"cf-livetail: event stream {scrub(text)}", file=sys.stderr, flush=True)
