"""Run a program in a pseudo-terminal, read everything it draws, press keys.

A reader thread drains the pty master all the time, so the program never
blocks on a full terminal buffer. The thread counts the bytes and keeps the
newest ones, so that a caller can wait for a text to appear on the screen.
"""

from __future__ import annotations

import bisect
import fcntl
import os
import re
import signal
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Mapping, Sequence

# Bytes of output kept for searching; older output is only counted.
KEEP_BYTES = 4 * 1024 * 1024
# ECMA-48 control sequences (CSI, OSC, and two-byte escapes), for reading
# the text of a screen out of the raw output.
ESCAPE_SEQUENCE = re.compile(
    rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]"
)


class PtyApp:
    """A child process whose stdin, stdout and stderr are one pty of a set size."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: str,
        columns: int = 80,
        rows: int = 24,
    ):
        self.argv = list(argv)
        self.env = dict(env)
        self.cwd = cwd
        self.columns = columns
        self.rows = rows
        self.process: subprocess.Popen[bytes] | None = None
        # time.monotonic() just before the child was spawned.
        self.started_at = 0.0
        self.bytes_read = 0
        self._master = -1
        self._lock = threading.Condition()
        self._buffer = bytearray()
        # Absolute output offset of self._buffer[0].
        self._base = 0
        # (absolute end offset, monotonic arrival time) of each chunk read.
        self._chunk_ends: list[int] = []
        self._chunk_times: list[float] = []
        self._reader: threading.Thread | None = None
        self._closed = False

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> PtyApp:
        master, slave = os.openpty()
        size = struct.pack("HHHH", self.rows, self.columns, 0, 0)
        fcntl.ioctl(slave, termios.TIOCSWINSZ, size)
        self._master = master
        self.started_at = time.monotonic()
        try:
            # NOTE: start_new_session gives the child its own session but not a
            # controlling terminal, so it gets no SIGWINCH; nothing here resizes.
            self.process = subprocess.Popen(
                self.argv,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
                close_fds=True,
            )
        finally:
            os.close(slave)
        self._reader = threading.Thread(
            target=self._read_loop, name="pty-reader", daemon=True
        )
        self._reader.start()
        return self

    def _read_loop(self) -> None:
        while True:
            try:
                chunk = os.read(self._master, 65536)
            except OSError:
                # EIO: every copy of the slave side is closed, the child is gone.
                chunk = b""
            now = time.monotonic()
            with self._lock:
                if not chunk:
                    self._closed = True
                    self._lock.notify_all()
                    return
                self.bytes_read += len(chunk)
                self._buffer += chunk
                self._chunk_ends.append(self.bytes_read)
                self._chunk_times.append(now)
                overflow = len(self._buffer) - KEEP_BYTES
                if overflow > 0:
                    del self._buffer[:overflow]
                    self._base += overflow
                    keep_from = bisect.bisect_right(self._chunk_ends, self._base)
                    del self._chunk_ends[:keep_from]
                    del self._chunk_times[:keep_from]
                self._lock.notify_all()

    def expect(self, pattern: bytes, timeout: float, since: int | None = None) -> float:
        """Wait for ``pattern`` (a bytes regex) in the output after offset ``since``.

        Returns the monotonic time at which the chunk that completed the match
        arrived. Raises TimeoutError after ``timeout`` seconds, and
        EOFError if the child closed the terminal first.
        """
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                start = max(0, (since or 0) - self._base)
                match = regex.search(self._buffer, start)
                if match is not None:
                    end = self._base + match.end()
                    index = bisect.bisect_left(self._chunk_ends, end)
                    return self._chunk_times[index]
                if self._closed:
                    raise EOFError(
                        f"the program exited before {pattern!r} appeared; "
                        f"it wrote: {self._tail_text()!r}"
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"{pattern!r} did not appear within {timeout:g} s; "
                        f"the screen ends with: {self._tail_text()!r}"
                    )
                self._lock.wait(remaining)

    def _tail_text(self, size: int = 1500) -> str:
        """Return the text of the newest output, for error messages (lock held)."""
        raw = bytes(self._buffer[-8 * size :])
        return ESCAPE_SEQUENCE.sub(b"", raw).decode("utf-8", "replace")[-size:]

    def screen_text(self, since: int = 0) -> str:
        """Return the output after offset ``since`` with escape sequences removed."""
        with self._lock:
            raw = bytes(self._buffer[max(0, since - self._base) :])
        return ESCAPE_SEQUENCE.sub(b"", raw).decode("utf-8", "replace")

    def press(self, keys: bytes) -> float:
        """Write ``keys`` to the terminal; return the monotonic time just before."""
        now = time.monotonic()
        os.write(self._master, keys)
        return now

    def stop(self, grace: float = 5.0) -> int | None:
        """Send SIGTERM, wait up to ``grace`` seconds, then SIGKILL; return the code."""
        code = None
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
            try:
                code = self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                code = self.process.wait(grace)
        if self._reader is not None:
            self._reader.join(2.0)
        if self._master >= 0:
            os.close(self._master)
            self._master = -1
        return code

    def __enter__(self) -> PtyApp:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
