"""One process of a distributed run: ``python -m reference_impl.distributed.rank JOB.json``.

Started by :func:`reference_impl.distributed.launcher.run_distributed` as
``python -m reference_impl.distributed.rank JOB.json`` with the torchrun-style environment
(``MASTER_ADDR``, ``MASTER_PORT``, ``RANK``, ``WORLD_SIZE``, and ``GLOO_SOCKET_IFNAME``). It runs
Astraea (Duan et al., ICCD 2019; TPDS 32(1), 2021) or FedAvg over ``torch.distributed`` (gloo),
with real point-to-point transfers of the serialized model, and so produces the same model updates
as the in-process engine (:mod:`reference_impl.engine.in_process`) for the same seed.

Across machines
---------------
The same module runs unchanged on several machines: write one ``job.json`` (as
:func:`reference_impl.distributed.launcher.run_distributed` does, with ``parent_pid`` 0 and
``folder`` a path that exists on every machine), copy it to every machine, and start rank ``r``
there with ``MASTER_ADDR=<server host> MASTER_PORT=<port> RANK=r WORLD_SIZE=W+1 python -m
reference_impl.distributed.rank job.json`` (or let ``torchrun --nnodes ... --node-rank ...`` set
the variables). Rank 0 writes ``result.pkl`` into ``folder``. This path has been exercised on one
machine only.

The process runs the server (rank 0, :mod:`reference_impl.distributed.server`) or a client-device
worker (ranks 1..W, :mod:`reference_impl.distributed.worker`). ``init_process_group`` waits at most
``max(timeout_s, 30 s)`` (:attr:`~reference_impl.distributed.job.Job.rendezvous_timeout_s`). Any
failure ends the process at once with a one-line message in ``error-rank<r>.txt``; children die with
their controller (``PR_SET_PDEATHSIG``), and Ctrl-C is the controller's to handle.
"""

from __future__ import annotations

import ctypes
import datetime
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import torch.distributed as dist

from reference_impl.distributed.job import Job, fatal
from reference_impl.distributed.peer import LinkError, first_line
from reference_impl.distributed.server import Server
from reference_impl.distributed.worker import Worker

__all__ = ["main"]

_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent_pid: int) -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux), then check the parent."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:
        os._exit(1)  # the controller died before prctl took effect


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m reference_impl.distributed.rank JOB.json`` with RANK etc. in the environment."""
    args = list(sys.argv[1:] if argv is None else argv)
    job = Job.from_json(Path(args[0]).read_text(encoding="utf-8"))
    rank = int(os.environ["RANK"])
    if job.parent_pid > 0:  # 0: started by hand or by torchrun on another machine, no controller to follow
        _die_with_parent(job.parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the controller's to handle
    try:
        dist.init_process_group("gloo", init_method="env://", rank=rank, world_size=job.workers + 1,
                                timeout=datetime.timedelta(seconds=job.rendezvous_timeout_s))
    except Exception as exc:  # noqa: BLE001
        fatal(job, rank, f"rank {rank} could not join the process group within {job.rendezvous_timeout_s:g} s: "
                         f"{first_line(exc)}")
    try:
        if rank == 0:
            Server(job).run()
        else:
            Worker(job, rank).run()
    except LinkError as exc:
        fatal(job, rank, str(exc))
    except BaseException as exc:  # noqa: BLE001
        fatal(job, rank, f"rank {rank} failed: {type(exc).__name__}: {first_line(exc)}")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # skip gloo's teardown: the conversation is over and every peer knows it


if __name__ == "__main__":
    raise SystemExit(main())
