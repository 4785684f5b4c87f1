"""Emulated device speeds: each client worker in its own cgroup v1 ``cpu`` cgroup, throttled by CFS quota.

A worker at speed ``s`` (relative to this machine's core) gets ``cpu.cfs_quota_us = s*P`` every
``cpu.cfs_period_us = P`` (``P`` = :data:`PERIOD_US`, 10 ms), so a compute burst of ``w`` CPU
seconds takes about ``w/s`` of wall time; the thread's own CPU time does not stretch, which is why
heterogeneity is validated on the wall clock. Measured rules on this kernel (6.18, cgroup v1 ``cpu``
mounted at ``/sys/fs/cgroup/cpu``): a burst that starts after an idle period first spends a fresh
quota at full speed, so it ends ``P*(1 - s)`` early (<= 9 ms at P = 10 ms: <= 2% of a 0.5 s visit);
the kernel refuses quotas and periods below 1 ms, so ``s >= 0.1`` at P = 10 ms. A quota is a cap,
not a guarantee: other tenants of a shared machine still take CPU from a throttled worker unless its
``cpu.shares`` is high, so every cgroup gets :data:`SHARES`. Quotas that together stay below the
machine's cores keep the workers from contending with each other.

A distributed run's worker starts unthrottled and moves itself into its cgroup before its first visit
(:func:`join_from_env`), so importing torch and building its data, which are not the device's work in
a round, run at the machine's speed. A cgroup is named ``<prefix>-<pid>-<n>-w<rank>`` (pid of the
creating process);
:class:`CpuThrottle` removes its cgroups on every exit path (processes moved back to the root
cgroup, then ``rmdir``), :func:`remove_stale` those of creators that are gone. Needs root.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from costmodel.errors import InputError, check_number, must
from reference_impl.network.namespaces import pid_alive

__all__ = [
    "CGROUP_CPU_ROOT",
    "JOIN_ENV",
    "MIN_SPEED",
    "PERIOD_US",
    "SHARES",
    "CpuThrottle",
    "cpu_throttle",
    "cpu_throttle_available",
    "join_from_env",
    "remove_stale",
    "speeds_below_cores",
]

#: Where the cgroup v1 ``cpu`` controller is mounted.
CGROUP_CPU_ROOT = Path("/sys/fs/cgroup/cpu")
#: CFS period of every throttled worker (microseconds).
PERIOD_US = 10_000
#: ``cpu.shares`` of every throttled worker (the root's default is 1024).
SHARES = 8192
#: Environment variable naming the ``cgroup.procs`` file a worker moves itself into (:func:`join_from_env`).
JOIN_ENV = "ASTRAEA_CPU_CGROUP_PROCS"
#: Slowest emulated speed: a quota of 1 ms per 10 ms period, the kernel's smallest.
MIN_SPEED = 0.1
_DEFAULT_PREFIX = "astraea"
_COUNTER = itertools.count()
_NAME = re.compile(r"^(?P<prefix>[a-z0-9]{1,8})-(?P<pid>\d+)-(?P<n>\d+)-w(?P<rank>\d+)$")


def cpu_throttle_available(root: Path = CGROUP_CPU_ROOT) -> tuple[bool, str]:
    """Whether workers can be throttled here, and if not, why (one line)."""
    if os.geteuid() != 0:
        return False, f"throttling devices needs root for cgroups (running as uid {os.geteuid()})"
    if not (root / "cpu.cfs_quota_us").exists():
        return False, f"the cgroup v1 cpu controller is not mounted at {root}"
    return True, "root and the cgroup v1 cpu controller are available"


def _write(path: Path, value: object) -> None:
    path.write_text(f"{value}\n", encoding="ascii")


def _remove(group: Path, root: Path, attempts: int = 50) -> bool:
    """Move every task of ``group`` back to the root cgroup and remove it; True when gone."""
    for _ in range(attempts):
        if not group.exists():
            return True
        with contextlib.suppress(OSError):
            for task in (group / "tasks").read_text(encoding="ascii").split():
                with contextlib.suppress(OSError):
                    _write(root / "tasks", task)
        with contextlib.suppress(OSError):
            group.rmdir()
        if not group.exists():
            return True
        time.sleep(0.02)
    return not group.exists()


class CpuThrottle:
    """One cpu cgroup per worker rank at its speed; :meth:`close` removes them all (see the module)."""

    def __init__(self, speeds: dict[int, float], *, prefix: str = _DEFAULT_PREFIX,
                 root: Path = CGROUP_CPU_ROOT) -> None:
        ok, reason = cpu_throttle_available(root)
        if not ok:
            raise InputError(f"'devices' cannot be emulated on this machine: {reason}.")
        self.root = root
        self.groups: dict[int, Path] = {}
        run = f"{prefix}-{os.getpid()}-{next(_COUNTER)}"
        try:
            for rank, speed in sorted(speeds.items()):
                speed = check_number(f"speed of worker {rank}", speed, minimum=MIN_SPEED, maximum=1.0)
                group = root / f"{run}-w{rank}"
                group.mkdir()
                self.groups[rank] = group
                _write(group / "cpu.cfs_period_us", PERIOD_US)
                _write(group / "cpu.cfs_quota_us", max(1000, round(speed * PERIOD_US)))
                _write(group / "cpu.shares", SHARES)
        except BaseException:
            self.close()
            raise

    def add(self, rank: int, pid: int) -> None:
        """Move process ``pid`` (all its threads, and the children it forks later) into ``rank``'s cgroup."""
        if rank in self.groups:
            _write(self.groups[rank] / "cgroup.procs", pid)

    def procs_path(self, rank: int) -> Path:
        """The ``cgroup.procs`` file of ``rank``'s cgroup: a process writing its pid there joins it."""
        return self.groups[rank] / "cgroup.procs"

    def add_thread(self, rank: int, tid: int) -> None:
        """Move one thread ``tid`` (``threading.get_native_id()``) into ``rank``'s cgroup (v1 ``tasks``)."""
        _write(self.groups[rank] / "tasks", tid)

    def release_thread(self, tid: int) -> None:
        """Move thread ``tid`` back to the root cgroup."""
        _write(self.root / "tasks", tid)

    def throttled_periods(self) -> dict[int, int]:
        """``nr_throttled`` of each rank's cgroup (periods in which its quota ran out)."""
        counts = {}
        for rank, group in self.groups.items():
            with contextlib.suppress(OSError):
                stat = dict(line.split() for line in (group / "cpu.stat").read_text(encoding="ascii").splitlines())
                counts[rank] = int(stat.get("nr_throttled", 0))
        return counts

    def close(self) -> list[str]:
        """Remove every cgroup of this throttle; return those that could not be removed."""
        left = [group.name for group in self.groups.values() if not _remove(group, self.root)]
        self.groups = {}
        return left


@contextlib.contextmanager
def cpu_throttle(speeds: dict[int, float], *, prefix: str = _DEFAULT_PREFIX,
                 root: Path = CGROUP_CPU_ROOT) -> Iterator[CpuThrottle]:
    """A :class:`CpuThrottle` for ``{rank: speed}``, removed on the way out (also on errors and Ctrl-C)."""
    throttle = CpuThrottle(speeds, prefix=prefix, root=root)
    try:
        yield throttle
    finally:
        left = throttle.close()
        if left:
            raise RuntimeError(f"could not remove cpu cgroups {', '.join(left)}.")


def join_from_env() -> bool:
    """Move this process into the cgroup named by :data:`JOIN_ENV` (once; later calls do nothing).

    A throttled worker is started unthrottled and calls this before its first visit, so it imports
    torch and builds its data at the machine's speed: only the device's work in the rounds is the
    emulated device's. Returns True when it moved.
    """
    procs = os.environ.pop(JOIN_ENV, "")
    if not procs:
        return False
    _write(Path(procs), os.getpid())
    return True


def remove_stale(prefix: str = _DEFAULT_PREFIX, root: Path = CGROUP_CPU_ROOT) -> tuple[str, ...]:
    """Remove the cgroups of ``prefix`` whose creating process is gone; return their names."""
    if not re.fullmatch(r"[a-z0-9]{1,8}", prefix):
        raise must("prefix", "be 1-8 lowercase letters or digits", prefix)
    stale = []
    for group in root.iterdir() if root.exists() else ():
        match = _NAME.match(group.name)
        if group.is_dir() and match and match["prefix"] == prefix and not pid_alive(int(match["pid"])):
            _remove(group, root)
            stale.append(group.name)
    return tuple(stale)


def speeds_below_cores(speeds: Sequence[float], cores: int | None = None) -> None:
    """Refuse speeds whose quotas together reach the machine's cores (the server needs some too)."""
    cores = cores or os.cpu_count() or 1
    if sum(speeds) > cores - 0.5:
        raise must("devices", f"have speeds that sum to at most {cores - 0.5:g} (this machine's {cores} cores less "
                              f"half a core for the server), so the workers do not contend", round(sum(speeds), 3))
