"""The event stream of one heartbeat session, following the session's wsUrl.

A ``HeartbeatSession`` prepares the live tail and keeps it alive; the
``LiveStream`` reads its events. ``SessionStream`` starts the stream once
the session has a wsUrl, and moves it to the new URL when the session
prepares the live tail again after a failure. When the server rejects the
old URL, the stream gets a fresh one from the session's ``refresh_ws_url``.
A ``ClientFilter`` drops the events that the server could not filter out
before they are kept or shown.
The module imports no Textual, so the headless mode and the app share it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tui.client_filter import ClientFilter
from tui.credentials import Credential
from tui.engine import HeartbeatSession
from tui.events import EventLine
from tui.stream import DEFAULT_RING_SIZE, LiveStream


class FilteredLiveStream(LiveStream):
    """A LiveStream that keeps only the events its client-side filter accepts.

    Dropped events never reach the ring, the append file or ``on_event``;
    ``filtered_out`` counts them, and ``received`` counts only kept ones.
    """

    def __init__(
        self, url: str | None, *, client_filter: ClientFilter | None = None, **kw: Any
    ):
        super().__init__(url, **kw)
        self.client_filter = client_filter
        self.filtered_out = 0

    def _keep(self, line: EventLine) -> None:
        # NOTE: overrides LiveStream's private per-event step, the one place
        # that every event passes before it is stored; keep the two in step.
        check = self.client_filter
        if check is not None and check.active and not check.accepts(line):
            self.filtered_out += 1
            return
        super()._keep(line)


class SessionStream:
    """One session's LiveStream, started and moved as the session's wsUrl changes.

    Call ``follow()`` from the session's on_beat and on_status callbacks, and
    ``stop()`` before stopping the session.
    """

    def __init__(
        self,
        session: HeartbeatSession,
        *,
        base_url: str,
        credential: Credential,
        on_event: Callable[[EventLine], None] | None = None,
        on_state: Callable[[str], None] | None = None,
        ca_bundle: str | None = None,
        ring_size: int = DEFAULT_RING_SIZE,
        client_filter: ClientFilter | None = None,
    ):
        self.session = session
        self._seen_url: str | None = None
        self._started = False
        self.stream = FilteredLiveStream(
            None,
            client_filter=client_filter,
            on_event=on_event,
            on_state=on_state,
            refresh_url=session.refresh_ws_url,
            api_base_url=base_url,
            credential_headers=credential.headers(),
            ca_bundle=ca_bundle,
            ring_size=ring_size,
        )

    @property
    def started(self) -> bool:
        return self._started

    def follow(self) -> None:
        """Start the stream, or switch its URL, when the session's wsUrl changes."""
        url = self.session.ws_url
        if url is None or url == self._seen_url:
            return
        self._seen_url = url
        if not self._started:
            self._started = True
            self.stream.start(url)
        elif url != self.stream.url:
            # The session prepared the live tail again itself, after a retry.
            self.stream.reconnect(url)

    async def apply_filters(self, filters: list[dict], combination: str) -> bool:
        """Prepare the live tail with new filters and move the stream to its URL.

        Returns False, with the old filters kept, when preparing failed.
        """
        old = (self.session.filters, self.session.filter_combination)
        self.session.set_filters(filters, combination)
        url = await self.session.refresh_ws_url()
        if url is None:
            self.session.set_filters(*old)
            return False
        self._seen_url = url
        if self._started:
            self.stream.reconnect(url)
        else:
            self._started = True
            self.stream.start(url)
        return True

    @property
    def client_filter(self) -> ClientFilter | None:
        return self.stream.client_filter

    def set_client_filter(self, client_filter: ClientFilter | None) -> None:
        """Check events that arrive from now on with ``client_filter``.

        Events already kept stay, and the count of dropped events restarts.
        """
        self.stream.client_filter = client_filter
        self.stream.filtered_out = 0

    async def stop(self) -> None:
        """Close the stream; safe to call when it never started."""
        if self._started:
            await self.stream.stop()
