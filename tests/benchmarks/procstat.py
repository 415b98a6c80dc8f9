"""Read a Linux process's CPU time and memory from /proc.

CPU time is the sum of the first field of /proc/PID/task/*/schedstat, the
nanoseconds each live thread has spent on a CPU. It is far finer than the
10 ms clock ticks of /proc/PID/stat, which matters for figures of a few
milliseconds a minute.
"""

from __future__ import annotations

import os
from pathlib import Path


def cpu_seconds(pid: int) -> float:
    """Return the CPU time of every live thread of ``pid``, in seconds.

    NOTE: a thread that exited since an earlier reading takes its time with
    it, so a delta between two readings can undercount. The threads of the
    processes timed here (asyncio's default executor, Textual's input and
    writer threads) live as long as the process, so the loss is at most the
    few milliseconds of a short-lived helper thread.
    """
    total_ns = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "schedstat").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total_ns += int(fields[0])
    return total_ns / 1e9


def cpu_ticks_seconds(pid: int) -> float:
    """Return user plus system time from /proc/PID/stat (10 ms resolution).

    Unlike cpu_seconds, this includes threads that have already exited.
    """
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name is in parentheses and may contain spaces.
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def memory_kib(pid: int) -> dict[str, int]:
    """Return VmRSS and VmHWM (peak RSS) of ``pid`` in KiB."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])
    return values


def self_rss_mib() -> float:
    """Return the current resident set size of this process in MiB."""
    return memory_kib(os.getpid())["VmRSS"] / 1024
