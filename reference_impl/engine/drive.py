"""Run a protocol's setup and rounds on an engine, and a whole in-process run.

:func:`drive` is the one loop over a run: the setup, then every round, each round's statistics
(virtual-clock round time, bytes, wall time, accuracy, the KL of the round's clients and training
groups) and the run's summary. The protocol is the registered one of ``config.algorithm``
(:mod:`reference_impl.protocols`), and the engine either transport: the in-process
:class:`~reference_impl.engine.in_process.Engine` (:func:`run`) or the distributed server
(:mod:`reference_impl.distributed.server`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from tqdm.auto import tqdm

from reference_impl.config import RunConfig
from reference_impl.engine import wire
from reference_impl.engine.in_process import Engine
from reference_impl.engine.trace import RunRecord, write_run
from reference_impl.protocols import protocol_of

__all__ = ["MEASUREMENT_VERSION", "RoundStats", "RunResult", "RunResultViews", "drive", "run"]

#: Bumped whenever a change to the engine alters what a run measures, so that a resumed sweep does
#: not mix runs of two engines (:func:`calibration.sweep.run_sweep` redoes runs of another version).
#: 2: the server averages into its buffer and the process keeps freed memory (calibration schema 3).
#: 3: rescheduling rows count the class updates of the greedy (flops; calibration schema 5).
MEASUREMENT_VERSION = 3


@dataclass(frozen=True)
class RoundStats:
    """What one round did, for the per-round summary."""

    round: int
    round_s: float
    bytes: int
    wall_s: float
    accuracy: float
    mean_kl_clients: float
    mean_kl_groups: float


@dataclass(frozen=True)
class RunResult:
    """A finished run: its trace, its per-round summary and its configuration."""

    run_id: str
    config: RunConfig
    trace: pd.DataFrame = field(repr=False)
    rounds: pd.DataFrame = field(repr=False)
    summary: dict[str, Any] = field(default_factory=dict)

    def write(self, folder: str | Path) -> Path:
        """Write ``trace.csv`` and ``run.json`` (atomically) into ``folder``."""
        summary = dict(self.summary, rounds=self.rounds.to_dict(orient="records"))
        return write_run(folder, RunRecord(run_id=self.run_id, algorithm=self.config.algorithm, trace=self.trace,
                                           config=self.config.as_dict(), summary=summary))


class RunResultViews:
    """The trace, per-round summary and summary of a result that wraps a :class:`RunResult` as ``result``
    (the distributed and Flower launchers' results), read through to it."""

    result: RunResult

    @property
    def trace(self) -> pd.DataFrame:
        return self.result.trace

    @property
    def rounds(self) -> pd.DataFrame:
        return self.result.rounds

    @property
    def summary(self) -> dict[str, Any]:
        return self.result.summary


def drive(engine: Engine, *, after_round: Callable[[RoundStats], None] | None = None
          ) -> tuple[list[RoundStats], dict[str, Any]]:
    """Run the setup and every round of ``engine.config``'s protocol on ``engine`` (either transport).

    Calls ``after_round`` with each round's statistics; returns them and the run's summary.
    """
    config = engine.config
    protocol = protocol_of(config.algorithm)
    wall0 = time.perf_counter()
    clock_s = setup_s = protocol.setup(engine)
    setup_wall_s = time.perf_counter() - wall0
    stats: list[RoundStats] = []
    for r in range(config.rounds):
        rows_before = len(engine.recorder)
        t_wall = time.perf_counter()
        end_s, kl_clients, kl_groups = protocol.run_round(engine, round=r, start_s=clock_s)
        wall_s = time.perf_counter() - t_wall
        round_bytes = engine.recorder.bytes_since(rows_before)
        accuracy = engine.evaluate(round=r, start_s=end_s)
        stats.append(RoundStats(round=r, round_s=end_s - clock_s, bytes=round_bytes, wall_s=wall_s,
                                accuracy=accuracy, mean_kl_clients=kl_clients, mean_kl_groups=kl_groups))
        clock_s = end_s
        if after_round is not None:
            after_round(stats[-1])
    summary = {
        "params": engine.params,
        "train_flops_per_sample": engine.flops_per_sample,
        "conv_input_values": engine.conv_input_values,
        "elementwise_values": engine.features.elementwise_values,
        "autograd_nodes": engine.features.autograd_nodes,
        "conv_calls": engine.features.conv_calls,
        "conv_padding_flops": engine.features.conv_padding_flops,
        "param_tensors": engine.features.param_tensors,
        "train_flops_by_class": dict(engine.features.train_flops_by_class),
        "flopcounter_train_flops_per_sample": engine.features.flopcounter_train_flops_per_sample,
        "model_message_bytes": wire.message_bytes(engine.params),
        "sample_shape": list(engine.sample_shape),
        "num_classes": engine.num_classes,
        "setup_s": setup_s,
        "total_s": clock_s,
        "wall_s": time.perf_counter() - wall0,
        "setup_wall_s": setup_wall_s,
        "final_accuracy": stats[-1].accuracy if stats else float("nan"),
        "torch_version": torch.__version__,
        "allocator": engine.allocator,
        "measurement_version": MEASUREMENT_VERSION,
        **protocol.setup_summary(engine),
    }
    return stats, summary


def run(config: RunConfig, *, progress: bool = True, run_id: str | None = None) -> RunResult:
    """Run ``config`` end to end in this process and return its trace and per-round summary.

    Shows a progress bar on stderr when ``progress`` is true.
    """
    engine = Engine(config, run_id=run_id)
    bar = tqdm(total=config.rounds, desc=f"{config.algorithm} rounds", unit="round", disable=not progress,
               leave=False)

    def show(stats: RoundStats) -> None:
        bar.update()
        bar.set_postfix(acc=f"{stats.accuracy:.3f}", round_s=f"{stats.round_s:.2f}")

    stats, summary = drive(engine, after_round=show)
    bar.close()
    rounds = pd.DataFrame([s.__dict__ for s in stats])
    return RunResult(run_id=engine.run_id, config=config, trace=engine.recorder.to_frame(), rounds=rounds,
                     summary=summary)
