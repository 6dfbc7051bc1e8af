"""Per-process CPU caps (cgroup v1 ``cpu`` controller) and per-process CPU accounting, so the
cluster benchmark can give each Valkey node the same CPU budget, as if each ran on its own box.

A cap is a cgroup ``/sys/fs/cgroup/cpu/<name>`` with ``cpu.cfs_quota_us`` = share × period.
``CpuCaps`` is a context manager: whatever happens (an error, Ctrl-C, SIGTERM turned into
KeyboardInterrupt by the caller), every cgroup it made is emptied back into the root group and
removed on exit.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

CPU_ROOT = Path("/sys/fs/cgroup/cpu")
PERIOD_US = 100_000
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class CpuCaps:
    """Cgroups named ``<prefix>-<label>``, each capped at ``share`` of one CPU."""

    def __init__(self, prefix: str, root: Path = CPU_ROOT):
        self.prefix, self.root = prefix, root
        self.groups: dict[str, Path] = {}

    @staticmethod
    def available(root: Path = CPU_ROOT) -> bool:
        return (root / "cgroup.procs").exists() and os.access(root, os.W_OK)

    def cap(self, label: str, pid: int, share: float) -> Path:
        """Move ``pid`` (all its threads) into its own group capped at ``share`` CPUs."""
        group = self.root / f"{self.prefix}-{label}"
        group.mkdir(exist_ok=True)
        self.groups[label] = group
        (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
        (group / "cpu.cfs_quota_us").write_text(str(max(1000, int(share * PERIOD_US))))
        (group / "cgroup.procs").write_text(str(pid))
        return group

    def throttle_stats(self) -> dict[str, dict[str, int]]:
        """Per group: periods run, periods throttled, ns throttled (cumulative)."""
        found = {}
        for label, group in self.groups.items():
            stats = dict(line.split() for line in (group / "cpu.stat").read_text().splitlines()
                         if line.strip())
            found[label] = {"periods": int(stats.get("nr_periods", 0)),
                            "throttled": int(stats.get("nr_throttled", 0)),
                            "throttled_ns": int(stats.get("throttled_time", 0))}
        return found

    def remove_all(self) -> None:
        for group in list(self.groups.values()):
            procs = group / "cgroup.procs"
            for _ in range(50):
                try:
                    pids = procs.read_text().split()
                except FileNotFoundError:
                    break
                for pid in pids:  # still running (the caller's stop failed): back to the root
                    try:
                        (self.root / "cgroup.procs").write_text(pid)
                    except OSError:
                        pass
                try:
                    group.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)
        self.groups.clear()

    def __enter__(self) -> CpuCaps:
        return self

    def __exit__(self, *exc) -> None:
        self.remove_all()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def cpu_snapshot(pids: dict[str, int]) -> dict[str, float]:
    found = {}
    for label, pid in pids.items():
        try:
            found[label] = cpu_seconds(pid)
        except (FileNotFoundError, ProcessLookupError):
            found[label] = float("nan")
    return found


def cpu_shares(before: dict[str, float], after: dict[str, float],
               wall: float) -> dict[str, float]:
    """CPU used per process over ``wall`` seconds, in CPUs (1.0 = one core busy)."""
    return {label: round((after[label] - before[label]) / wall, 3) for label in before}
