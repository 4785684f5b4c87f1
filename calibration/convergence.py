"""The measured convergence the package stores: digits curves of Astraea and FedAvg at two imbalance settings.

Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) is meant to reach an accuracy in fewer rounds
than FedAvg on imbalanced data; the cost model prices the rounds. This module measures the rounds on
the one real data set the reference implementation ships (scikit-learn's handwritten digits) and
writes what :mod:`costmodel.contracts.convergence_evidence` reads: per setup of
:data:`DIGITS_SETUPS`, the curves of the development seeds and of the held-out seeds
(:func:`reference_impl.studies.convergence.measure_curves`), and each seed's scenario planned from its
configuration alone (:func:`calibration.scenario.scenario_from_workload`: nothing measured enters it).

The setups (20 clients, 10 per round, mediators of 5, E = E_m = 1, batch 10, Adam 1e-3, 200 rounds):

``digits-shards``
    a long tail of ratio 0.2 and two label-sorted shards per client (the FedAvg literature's
    pathological split), the TPDS plan as its text describes it at tau_d = 3.0: the project's default
    run;
``digits-papers``
    the papers' regime: the long tail of the TPDS EMNIST setup (ratio 0.09897), Dirichlet clients at
    the concentration that gives the paper's client KL (alpha = 2; 0.615 nats on digits), and the
    TPDS plan as printed at tau_d = 3.5, which adds the papers' volume of data (+86% here, +81.8% in
    the paper).

Development seeds 0..4 are what the report's targets were chosen on; held-out seeds 5..7 are only
priced and compared (``costmodel.analysis.time_to_accuracy.compare_with_measured``).

``python -m calibration.convergence --out costmodel/data/convergence`` rewrites the stored data (about
15 minutes on 2 cores). A curves file already in ``--out`` with the expected algorithms and seeds is
kept, so an interrupted run resumes; when every file is kept, only the planned scenarios are written
anew (after a change of the cost model's inputs) and the manifest keeps the measurement's date, machine
and load.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from calibration.machine import describe_machine
from calibration.scenario import ARCHITECTURE_COLUMNS, scenario_from_workload
from costmodel.contracts.convergence_evidence import write_convergence
from costmodel.contracts.curves_file import load_curves
from costmodel.errors import InputError
from costmodel.files import atomic_path, create_output_folder
from reference_impl.config import PAPERS_DIRICHLET_ALPHA, RunConfig
from reference_impl.data.datasets import dataset_spec
from reference_impl.models import build_model, model_features
from reference_impl.studies.convergence import measure_curves
from reference_impl.studies.imbalance import PAPERS_EMNIST_IMBALANCE_RATIO
from reference_impl.workload import plan_workload

__all__ = ["ALGORITHMS", "DIGITS_SETUPS", "MeasuredSetup", "architecture", "build", "planned_scenario"]

#: The algorithms measured.
ALGORITHMS: tuple[str, ...] = ("astraea", "fedavg")
COMMAND = "python -m calibration.convergence --out costmodel/data/convergence"


@dataclass(frozen=True, kw_only=True)
class MeasuredSetup:
    """One setup to measure: a key (file names), a title, a sentence, the configuration and the seeds."""

    key: str
    title: str
    description: str
    config: RunConfig
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    heldout_seeds: tuple[int, ...] = (5, 6, 7)


_COMMON = dict(dataset="digits", clients=20, clients_per_round=10, gamma=5, local_epochs=1, mediator_epochs=1,
               batch_size=10, rounds=200, learning_rate=1e-3, threads=1, timer="thread")
DIGITS_SETUPS: tuple[MeasuredSetup, ...] = (
    MeasuredSetup(key="digits-shards", title="digits, long tail 0.2, two label shards per client",
                  description="20 clients, 10 per round, mediators of 5; a long tail of ratio 0.2, two label-sorted "
                              "shards per client, the TPDS plan (text) at tau_d = 3.0",
                  config=RunConfig(global_imbalance="long-tail", imbalance_ratio=0.2, local_imbalance="classes",
                                   classes_per_client=2, plan="tpds", tau_d=3.0, **_COMMON)),
    MeasuredSetup(key="digits-papers", title="digits, the papers' regime",
                  description="20 clients, 10 per round, mediators of 5; the TPDS EMNIST long tail (ratio 0.09897), "
                              "Dirichlet clients (alpha = 2, the paper's client KL), the TPDS plan as printed at "
                              "tau_d = 3.5",
                  config=RunConfig(global_imbalance="long-tail", imbalance_ratio=PAPERS_EMNIST_IMBALANCE_RATIO,
                                   local_imbalance="dirichlet", dirichlet_alpha=PAPERS_DIRICHLET_ALPHA,
                                   plan="tpds-printed", tau_d=3.5, **_COMMON)),
)


def architecture(config: RunConfig) -> dict[str, Any]:
    """The model figures the cost model needs (:data:`calibration.scenario.ARCHITECTURE_COLUMNS` and
    ``sample_shape``), counted on the configuration's model as the engine does."""
    spec = dataset_spec(config.dataset)
    model = build_model(config.model, sample_shape=spec.sample_shape, num_classes=spec.num_classes,
                        width=config.model_width)
    features = model_features(model, spec.sample_shape, spec.num_classes)
    return {**{name: features.model_inputs()[name] for name in ARCHITECTURE_COLUMNS},
            "sample_shape": list(spec.sample_shape)}


def planned_scenario(config: RunConfig) -> dict[str, Any]:
    """The cost-model inputs of ``config`` planned without training (Astraea's workload, which prices
    every algorithm: FedAvg's costs read none of the augmentation inputs), ``inf`` as the string "inf"."""
    scenario = scenario_from_workload(plan_workload(dataclasses.replace(config, algorithm="astraea")),
                                      architecture(config))
    return {name: ("inf" if isinstance(value, float) and math.isinf(value) else value)
            for name, value in scenario.as_dict().items()}


def _complete(path: Path, seeds: Sequence[int], rounds: int) -> bool:
    """Whether ``path`` holds curves of every algorithm for exactly ``seeds``, ``rounds`` rounds each."""
    if not path.exists():
        return False
    try:
        curves = load_curves(path)
    except InputError:
        return False
    frame = curves.frame
    return (curves.algorithms == ALGORITHMS and all(curves.seeds(a) == tuple(sorted(seeds)) for a in ALGORITHMS)
            and len(frame) == len(ALGORITHMS) * len(seeds) * rounds)


def _load_average() -> float:
    return float(os.getloadavg()[0])


def build(out: str | os.PathLike[str], setups: Sequence[MeasuredSetup] = DIGITS_SETUPS, *,
          progress: bool = True) -> Path:
    """Measure (or keep) every setup's curves into ``out`` and write the manifest ``digits.json``."""
    folder = create_output_folder("out", out)
    load_start = _load_average()
    entries = []
    measured = False
    for setup in setups:
        files = {}
        for which, seeds in (("curves", setup.seeds), ("heldout_curves", setup.heldout_seeds)):
            name = f"{setup.key}{'' if which == 'curves' else '-heldout'}.csv"
            path = folder / name
            if not _complete(path, seeds, setup.config.rounds):
                frame = measure_curves(setup.config, seeds, algorithms=ALGORITHMS, progress=progress)
                measured = True
                with atomic_path(path, name="out") as tmp:
                    frame.to_csv(tmp, index=False, float_format="%.9g")
            files[which] = name
        config = {k: v for k, v in setup.config.as_dict().items() if k not in ("algorithm", "seed")}
        scenarios = {str(seed): planned_scenario(dataclasses.replace(setup.config, seed=seed))
                     for seed in (*setup.seeds, *setup.heldout_seeds)}
        entries.append({"key": setup.key, "title": setup.title, "description": setup.description, "config": config,
                        "seeds": list(setup.seeds), "heldout_seeds": list(setup.heldout_seeds), **files,
                        "scenarios": scenarios})
    manifest = {"created": datetime.date.today().isoformat(), "command": COMMAND,
                "machine": describe_machine(threads=1), "load_average": [load_start, _load_average()],
                "setups": entries}
    previous = folder / "digits.json"
    if not measured and previous.exists():
        # Every curve was kept: the date, machine and load are the measurement's, not this re-plan's.
        kept = json.loads(previous.read_text(encoding="utf-8"))
        manifest.update({key: kept[key] for key in ("created", "machine", "load_average") if key in kept})
    return write_convergence(folder / "digits.json", manifest)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m calibration.convergence", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for digits.json and the curves files")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        path = build(args.out, progress=not args.quiet)
    except InputError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover - the documented command
    raise SystemExit(main())
