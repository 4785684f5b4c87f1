"""What every process of a distributed run reads and where it reports: the job, the placement, a failure.

The controller (:func:`reference_impl.distributed.launcher.run_distributed`) writes one ``job.json``;
every rank (:mod:`reference_impl.distributed.rank`) reads it. Rank 0 is the FL server; ranks 1..W are
client devices, client ``k`` on rank ``1 + k % W`` (:func:`worker_rank`). A rank that fails writes its
one-line reason into the job's folder and ends at once (:func:`fatal`); the controller reads it.
This module imports no torch, so the controller writes jobs without loading it.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from costmodel.files import atomic_write_text

__all__ = ["Job", "clients_of", "fatal", "worker_rank"]

#: The shortest rendezvous deadline: every rank imports torch first, which takes seconds on a loaded machine.
_RENDEZVOUS_MIN_S = 30.0


def worker_rank(client: int, workers: int) -> int:
    """The rank hosting client ``client`` among ``workers`` workers: ``1 + client % workers``."""
    return 1 + int(client) % int(workers)


def clients_of(rank: int, *, clients: int, workers: int) -> list[int]:
    """The clients hosted by worker ``rank`` (1..workers), ascending."""
    return [k for k in range(clients) if worker_rank(k, workers) == rank]


@dataclass(frozen=True, kw_only=True)
class Job:
    """What every process of a run reads from ``job.json`` (written by the controller).

    Attributes
    ----------
    config : the run's configuration (as :meth:`RunConfig.as_dict`).
    run_id : the trace's run id.
    workers : W, client-device worker ranks.
    timeout_s : the longest silence on any link (the rendezvous gets ``max(timeout_s, 30 s)``).
    slowest_bits_per_s : the slowest shaped rate (``inf`` unshaped); payload deadlines add twice a
        payload's time at this rate.
    folder : where the server writes ``result.pkl``, ``progress`` and every rank its error file.
    parent_pid : the controller; a process whose parent is gone exits. 0 when the ranks are started
        by hand or by ``torchrun`` on several machines (:mod:`reference_impl.distributed.rank`).
    """

    config: dict[str, Any]
    run_id: str
    workers: int
    timeout_s: float
    slowest_bits_per_s: float
    folder: str
    parent_pid: int

    @property
    def keepalive_s(self) -> float:
        """How often an idle server pings and a busy worker says so: ``timeout_s / 4``."""
        return self.timeout_s / 4.0

    @property
    def rendezvous_timeout_s(self) -> float:
        """The deadline of ``init_process_group``: ``max(timeout_s, 30 s)``."""
        return max(self.timeout_s, _RENDEZVOUS_MIN_S)

    def to_json(self) -> str:
        data = dict(self.__dict__, slowest_bits_per_s=repr(float(self.slowest_bits_per_s)))
        return json.dumps(data, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Job:
        data = json.loads(text)
        data["slowest_bits_per_s"] = float(data["slowest_bits_per_s"])
        return cls(**data)

    def error_path(self, rank: int) -> Path:
        return Path(self.folder) / f"error-rank{rank}.txt"

    @property
    def result_path(self) -> Path:
        return Path(self.folder) / "result.pkl"

    @property
    def progress_path(self) -> Path:
        return Path(self.folder) / "progress"


def fatal(job: Job, rank: int, message: str) -> NoReturn:
    """Write the one-line error, print the traceback to the log, and end this process now."""
    traceback.print_exc(file=sys.stderr)
    print(f"rank {rank}: {message}", file=sys.stderr, flush=True)
    try:
        atomic_write_text(job.error_path(rank), message.replace("\n", " ") + "\n")
    finally:
        sys.stderr.flush()
        os._exit(1)
