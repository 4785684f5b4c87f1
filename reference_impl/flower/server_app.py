"""The ServerApp: runs a protocol's setup and rounds on :class:`~reference_impl.flower.server.FlowerServer`
and leaves the run's result (or its one-line failure) in the job's folder.

Flower runs it as ``flwr-serverapp`` beside the SuperLink. It reads the job from its run config
(:class:`~reference_impl.flower.job.FlowerJob`), drives the registered protocol with the engines'
common loop (:func:`reference_impl.engine.drive.drive`), touches ``progress`` after every round, and
writes ``result.pkl`` (the trace, the rounds, the summary, the final model and the message log; the
summary also records Flower's object-pull retry schedule, its first delay and its cap) or
``error.txt`` (one line naming the client that failed), both atomically, for the launcher
(:mod:`reference_impl.flower.deployment`).
"""

from __future__ import annotations

import pickle
import traceback

import flwr
from flwr.app import Context
from flwr.serverapp import Grid, ServerApp
from flwr.supercore.constant import PULL_BACKOFF_CAP, PULL_INITIAL_BACKOFF

from costmodel.files import atomic_path, atomic_write_text
from reference_impl.engine.drive import drive
from reference_impl.flower.exchange import FlowerRunError
from reference_impl.flower.job import FlowerJob

__all__ = ["app"]

app = ServerApp()


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


@app.main()
def main(grid: Grid, context: Context) -> None:
    """Run the job of ``context.run_config`` (module docstring)."""
    from reference_impl.flower.server import FlowerServer     # torch: only in the ServerApp's process

    job = FlowerJob.from_run_config(context.run_config)
    try:
        server = FlowerServer(job, grid)
        stats, summary = drive(server, after_round=lambda s: atomic_write_text(job.progress_path, f"{s.round + 1}\n"))
        summary.update(server.flower_summary(), engine="flower", flwr_version=flwr.__version__,
                       flower_pull_retry_s=float(PULL_INITIAL_BACKOFF), flower_pull_retry_cap_s=float(PULL_BACKOFF_CAP))
        result = {"run_id": server.run_id, "trace": server.recorder.to_frame(), "rounds": [s.__dict__ for s in stats],
                  "summary": summary, "global_vector": server.global_vector.numpy().copy(),
                  "messages": server.exchange.log}
        with atomic_path(job.result_path) as tmp:
            tmp.write_bytes(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    except FlowerRunError as error:
        atomic_write_text(job.error_path, f"{error}\n")
        raise
    except BaseException as error:
        traceback.print_exc()
        atomic_write_text(job.error_path, f"the ServerApp failed: {type(error).__name__}: {_first_line(error)}\n")
        raise
