"""Profiling sweeps: many small measured runs of Astraea and FedAvg, resumable, one folder per run.

The cost model of Astraea (Duan et al., ICCD 2019; "Self-Balancing Federated Learning With Global
Imbalanced Data in Mobile Systems", IEEE TPDS 32(1), 2021) and FedAvg prices every phase with a few
platform coefficients. They are fitted (:mod:`calibration.fit`) on the trace rows of runs that vary
what each coefficient multiplies, and checked (:mod:`calibration.validate`) on runs outside the
fitted ranges. This module describes such a set of runs (:class:`SweepDesign`), runs it
(:func:`run_sweep`) and reads it back (:func:`load_runs`).

Layout on disk: ``<folder>/<run key>/trace.csv`` and ``run.json`` (:mod:`reference_impl.engine.trace`).
The run key is ``<algorithm>-<12 hex digits>``, a SHA-256 of the configuration (as sorted JSON)
and the repetition number, so it is stable across machines and Python versions. ``run.json`` is
written last and atomically, so a folder holding it holds a finished run; :func:`run_sweep` skips
those and redoes any other (an interrupted run leaves no ``run.json``).

Choices (the papers publish no cost measurements to copy a design from)
* :func:`default_sweep` changes one factor at a time around a small base run (emnist-shape data,
  the TPDS layout at width 1, 20 clients, 8 per round, mediators of 4, B = 10, one round, no
  evaluation, one torch thread: one device is one core), each for both algorithms: samples per
  client 50..400, batch size 5..50, model width 0.25..3 (5,863..574,157 parameters, two orders of
  magnitude), batch size 5 and 50 at the smallest and largest widths (and at cinic-shape width 2), so
  the per-step cost of the parameters and the per-sample cost of the FLOPs are told apart, clients
  per round 4..40 (20 and 40 with small, cheap clients; the greedy rescheduling at 100..700 clients
  is timed alone, :mod:`calibration.rescheduling_probe`),
  gamma 2..8, E_m 1..3, E 1..2, classes (emnist-shape 47, cinic-shape 10, digits 10), imbalance
  (none, long-tail, half-normal; 2 or 5 classes per client; lognormal client sizes), augmentation
  volume (TPDS plan: about 10% new samples, or 5% downsampled at tau_d = 1; ICCD plan with
  alpha = 1: 28..41%; the printed TPDS plan on the papers' EMNIST long tail with Dirichlet
  clients: about 82%, the papers' volume). FedProx on five configurations. The four other architecture
  families (dense-only, residual with BatchNorm, depthwise-separable, a small vision transformer) at
  widths 0.5 and 1 and batch sizes 5 and 50, FedAvg only: on them the local-training statement's terms
  per autograd node, per spatial convolution call and per element-wise value come apart from the
  parameters' and the FLOPs', which the TPDS layout moves together. One round each (its events repeat
  within the run: 8 visits, mediators, transfers).
* Every configuration runs :data:`calibration.protocol.DEFAULT_REPETITIONS` times, in interleaved
  rounds of shuffled order (:mod:`calibration.protocol`); the fit takes each event's median over the
  repetitions. Repetitions of one configuration share its seed: same data, same clients, same model;
  only the timings differ, so their spread is the machine's run-to-run noise, not the data's.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from tqdm.auto import tqdm

from calibration.protocol import DEFAULT_REPETITIONS, PROBE_EVERY, interleaved_order
from calibration.speed_probe import probe_seconds, usual_probe_seconds
from costmodel.errors import InputError, check_int, must
from costmodel.files import create_output_folder
from costmodel.model.label_mix import EMNIST_HISTOGRAM, PAPERS_DIRICHLET_ALPHA
from calibration.rescheduling_probe import load_probe
from calibration.scenario import ARCHITECTURE_COLUMNS, COUNTED_COLUMNS
from reference_impl.config import RunConfig
from reference_impl.engine import drive
from reference_impl.engine.drive import MEASUREMENT_VERSION
from reference_impl.engine.trace import RUN_FILE, read_run

__all__ = [
    "CONFIG_COLUMNS",
    "FAMILIES",
    "PROXIMAL_MU",
    "SweepDesign",
    "config_key",
    "default_sweep",
    "folder_probe_seconds",
    "folder_probes",
    "load_runs",
    "quick_sweep",
    "run_key",
    "run_sweep",
]

#: Configuration fields joined onto every trace row by :func:`load_runs` (all of RunConfig's fields).
CONFIG_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(RunConfig))

#: Configuration fields whose name is taken by a trace column get another name on trace rows.
_TRACE_NAME: dict[str, str] = {"samples": "dataset_samples"}


def _canonical(config: RunConfig) -> str:
    return json.dumps(config.as_dict(), sort_keys=True, separators=(",", ":"))


def config_key(config: RunConfig) -> str:
    """12 hex digits identifying ``config`` (all its fields): repetitions of it share this key."""
    return hashlib.sha256(_canonical(config).encode("utf-8")).hexdigest()[:12]


def run_key(config: RunConfig, repetition: int) -> str:
    """The folder name of one run: ``<algorithm>-<12 hex digits of config and repetition>``."""
    digest = hashlib.sha256(f"{_canonical(config)}#{int(repetition)}".encode("utf-8")).hexdigest()[:12]
    return f"{config.algorithm}-{digest}"


@dataclass(frozen=True, kw_only=True)
class SweepDesign:
    """A set of run configurations, each to be run ``repetitions[i]`` times.

    Parameters
    ----------
    configs : tuple of RunConfig
        Distinct configurations (a duplicate is an error: repeat it with ``repetitions``).
    repetitions : tuple of int
        Runs of each configuration, >= 1, one entry per configuration.
    name : str
        What the design is for (shown in progress and reports).
    """

    configs: tuple[Any, ...]
    repetitions: tuple[int, ...]
    name: str = "sweep"

    def __post_init__(self) -> None:

        configs = tuple(self.configs)
        repetitions = tuple(self.repetitions)
        if not configs:
            raise must("configs", "hold at least one RunConfig", "none")
        for config in configs:
            if not isinstance(config, RunConfig):
                raise must("configs", "hold RunConfig objects", type(config).__name__)
        if len(repetitions) != len(configs):
            raise InputError(f"'repetitions' must have one entry per config ({len(configs)}) "
                             f"(got {len(repetitions)}).")
        repetitions = tuple(check_int("repetitions", r, minimum=1) for r in repetitions)
        keys = [config_key(c) for c in configs]
        if len(set(keys)) != len(keys):
            first = next(c for c, k in zip(configs, keys) if keys.count(k) > 1)
            raise InputError(f"'configs' must be distinct; repeat a config with 'repetitions' "
                             f"(got {first.algorithm} {first.dataset} twice).")
        object.__setattr__(self, "configs", configs)
        object.__setattr__(self, "repetitions", repetitions)

    @classmethod
    def from_configs(cls, configs: Iterable[RunConfig], *, repetitions: int = 1,
                     repeated: Sequence[RunConfig] = (), repeated_times: int = 3, name: str = "sweep") -> SweepDesign:
        """A design running each config once (``repetitions``) and each of ``repeated`` ``repeated_times``.

        Duplicates in ``configs`` are dropped (first kept), so designs built by varying one factor
        at a time can list the base configuration several times.
        """
        unique: dict[str, RunConfig] = {}
        for config in [*repeated, *configs]:
            unique.setdefault(config_key(config), config)
        repeated_keys = {config_key(c) for c in repeated}
        reps = tuple(repeated_times if key in repeated_keys else repetitions for key in unique)
        return cls(configs=tuple(unique.values()), repetitions=reps, name=name)

    def runs(self, *, seed: int = 0) -> list[tuple[RunConfig, int]]:
        """Every run as ``(config, repetition)``, repetition counting from 0, in the order they run:
        repetition by repetition (round ``r`` holds every configuration's ``r``-th run), each round
        in its own shuffled order (:func:`calibration.protocol.interleaved_order` with ``seed``).

        Interleaved on purpose: the repetitions of one configuration are minutes apart, not
        back to back, so their spread (the run-to-run noise the validation compares errors with)
        includes the slow drift of a shared machine's speed, and their median is not one episode's.
        Back-to-back repetitions agreed within 1.4% (local training, held-out design) while the same
        design run 25 minutes later was 3.2% slower on average.
        """
        return interleaved_order(self.configs, self.repetitions, seed=seed)

    def __len__(self) -> int:
        return sum(self.repetitions)


#: The proximal coefficient of the sweeps' FedProx runs (Li et al. tune mu over 0.001..1).
PROXIMAL_MU = 0.01


def _both(configs: Iterable[RunConfig]) -> list[RunConfig]:
    """Each config for Astraea and for FedAvg."""
    out = []
    for config in configs:
        out += [replace(config, algorithm="astraea"), replace(config, algorithm="fedavg")]
    return out


def _proximal(configs: Iterable[RunConfig]) -> list[RunConfig]:
    """Each config for FedProx: the proximal term's per-parameter cost is fitted on these."""
    return [replace(config, algorithm="fedprox", mu=PROXIMAL_MU) for config in configs]


#: The architecture families a sweep runs beside the TPDS layout (:mod:`reference_impl.models.families`).
FAMILIES: tuple[str, ...] = ("mlp", "resnet", "mobilenet", "vit")


def _base() -> RunConfig:
    return RunConfig(algorithm="astraea", dataset="emnist-shape", samples=2000, model="scaled", model_width=1.0,
                     clients=20, clients_per_round=8, gamma=4, local_epochs=1, mediator_epochs=1, batch_size=10,
                     rounds=1, global_imbalance="long-tail", imbalance_ratio=0.1, classes_per_client=2,
                     size_skew=0.0, seed=0, threads=1, evaluate=False)


def default_sweep(repetitions: int = DEFAULT_REPETITIONS) -> SweepDesign:
    """The calibration sweep: one factor at a time around a small base run, both algorithms, each
    configuration ``repetitions`` times (interleaved rounds).

    See the module docstring for the ranges: 105 configurations.
    """
    repetitions = check_int("repetitions", repetitions, minimum=1)
    base = _base()
    varied = [base]
    varied += [replace(base, samples=s) for s in (1000, 4000, 8000)]                  # n = 50..400
    varied += [replace(base, batch_size=b) for b in (5, 25, 50)]
    varied += [replace(base, model_width=w) for w in (0.25, 0.5, 2.0, 3.0)]           # 5.9k..574k params
    # batch size crossed with model size: with B fixed, a step's per-parameter cost and its
    # samples' FLOPs grow together with the width and cannot be told apart
    varied += [replace(base, model_width=w, batch_size=b) for w in (0.25, 3.0) for b in (5, 50)]
    varied += [replace(base, dataset="cinic-shape", model_width=2.0, batch_size=b) for b in (5, 50)]
    varied += [replace(base, clients_per_round=c, gamma=min(4, c)) for c in (4, 12, 16)]
    # cheap visits: up to 40 clients per round, where the greedy rescheduling's c(c+1)/2 candidate
    # evaluations start to show beside its per-step cost (at c <= 20 they are lost in the noise)
    varied += [replace(base, clients=24, clients_per_round=20, gamma=5, samples=600, model_width=0.5),
               replace(base, clients=48, clients_per_round=40, gamma=5, samples=1200, model_width=0.5)]
    # FedAvg averages 12 and 16 models of 574k parameters: many passes over a large running average
    varied += [replace(base, clients_per_round=c, model_width=3.0, samples=1000) for c in (12, 16)]
    varied += [replace(base, gamma=g) for g in (2, 8)]
    varied += [replace(base, mediator_epochs=e) for e in (2, 3)]
    varied += [replace(base, local_epochs=2)]
    varied += [replace(base, dataset="cinic-shape", model_width=w) for w in (0.5, 1.0, 2.0)]
    varied += [replace(base, dataset="digits", model="tpds")]
    varied += [replace(base, global_imbalance="none"),
               replace(base, global_imbalance="half-normal", imbalance_ratio=0.05),
               replace(base, classes_per_client=5),
               replace(base, size_skew=0.5)]
    varied += [replace(base, plan="iccd", alpha=1.0),                                  # 28..41% augmented
               replace(base, plan="iccd", alpha=1.0, imbalance_ratio=0.02),
               replace(base, plan="iccd", alpha=1.0, dataset="cinic-shape"),
               replace(base, tau_d=1.0)]                                               # 5% downsampled
    # the papers' volume: the printed TPDS plan on the papers' EMNIST long tail (about +82% data),
    # clients drawn at the papers' Dirichlet concentration
    varied += [replace(base, plan="tpds-printed", tau_d=EMNIST_HISTOGRAM.threshold,
                       imbalance_ratio=EMNIST_HISTOGRAM.imbalance_ratio, local_imbalance="dirichlet",
                       dirichlet_alpha=PAPERS_DIRICHLET_ALPHA)]
    # FedProx: its proximal term costs P*t_prox per step: widths and batch sizes move P and the steps
    proximal = [base, replace(base, model_width=0.25), replace(base, model_width=3.0),
                replace(base, batch_size=5), replace(base, batch_size=50, model_width=2.0)]
    # the other four families (FedAvg: their visits are what they add), at two widths and two batch sizes:
    # they move the autograd nodes, the spatial convolution calls and the element-wise values apart from
    # the parameters and the FLOPs, which the TPDS layout moves together
    families = [replace(base, algorithm="fedavg", model=family, model_width=w, batch_size=b)
                for family in FAMILIES for w in (0.5, 1.0) for b in (5, 50)]
    return SweepDesign.from_configs(_both(varied) + _proximal(proximal) + families, repetitions=repetitions,
                                    name="calibration")


def quick_sweep() -> SweepDesign:
    """A small sweep (30 runs, about 20 s on 2 cores) that still varies every fitted regressor: samples,
    batch size, width, clients per round, classes, E_m, the other four families at two batch sizes
    (FedAvg); the base run three times."""
    base = replace(_base(), samples=1000)
    varied = [base, replace(base, batch_size=25), replace(base, model_width=0.5), replace(base, model_width=2.0),
              replace(base, clients_per_round=12), replace(base, dataset="cinic-shape"),
              replace(base, mediator_epochs=2), replace(base, samples=3000)]
    proximal = [base, replace(base, model_width=2.0, batch_size=25)]
    families = [replace(base, algorithm="fedavg", model=family, batch_size=b) for family in FAMILIES for b in (10, 25)]
    return SweepDesign.from_configs(_both(varied) + _proximal(proximal) + families, repeated=_both([base]),
                                    repeated_times=3, name="quick")


def run_sweep(design: SweepDesign, folder: str | os.PathLike[str], *, progress: bool = True,
              probe_every: int | None = PROBE_EVERY, seed: int = 0) -> list[Path]:
    """Run every run of ``design`` into its own sub-folder of ``folder``; return the run folders
    (in the order they run: :meth:`SweepDesign.runs` with ``seed``, interleaved shuffled rounds).

    Finished runs (``run.json`` present) are skipped, so an interrupted sweep resumes where it
    stopped, unless they were measured by another engine or torch version (their summary's
    ``measurement_version`` and ``torch_version``): those are run again, so that one folder never
    mixes two engines. Each run folder also gets its repetition number in ``run.json``'s summary
    (``sweep_repetition``), the design's name (``sweep_name``) and ``config_key``.

    ``probe_every`` (``None``: no probes): a speed probe (:func:`calibration.speed_probe.probe_seconds`)
    runs before the first run made now and then before every ``probe_every``-th; its time is
    stored in that run's summary (``speed_probe_s``, a list of one). The probes describe the
    machine's speed while the sweep ran (:mod:`calibration.protocol`); no run is re-run, dropped or
    scaled by them: the repetitions and their medians deal with a slow episode.
    """

    if not isinstance(design, SweepDesign):
        raise must("design", "be a SweepDesign", type(design).__name__)
    if probe_every is not None:
        probe_every = check_int("probe_every", probe_every, minimum=1)
    root = create_output_folder("out", folder)
    todo = design.runs(seed=seed)
    paths: list[Path] = []
    measured = 0

    bar = tqdm(todo, desc=f"{design.name} sweep", unit="run", disable=not progress)
    for config, repetition in bar:
        path = root / run_key(config, repetition)
        paths.append(path)
        if (path / RUN_FILE).is_file():
            if _measured_alike(path):
                continue
            (path / RUN_FILE).unlink()          # measured by another engine or torch: redo it
        bar.set_postfix_str(f"{config.algorithm} {config.dataset} w{config.model_width:g} c{config.clients_per_round}")
        probe = probe_every is not None and measured % probe_every == 0
        _write_run(*_measure(config, repetition, design, probe=probe), path)
        measured += 1
    bar.close()
    return paths


#: Architecture features the local-training statement reads that early runs of the same measurement
#: version did not record yet: a run without them is redone, never fitted as 0.
RECORDED_FEATURES: tuple[str, ...] = ("elementwise_values", "autograd_nodes", "conv_calls", "conv_padding_flops")


def _measured_alike(path: Path) -> bool:
    """Whether the finished run in ``path`` was measured as a run made now would be: the same
    :data:`reference_impl.engine.drive.MEASUREMENT_VERSION` and torch version, and every feature of
    :data:`RECORDED_FEATURES` recorded (an unreadable run is not)."""

    summary = _summary(path)
    return (summary.get("measurement_version") == MEASUREMENT_VERSION
            and summary.get("torch_version") == torch.__version__
            and all(summary.get(name) is not None for name in RECORDED_FEATURES))


def _summary(path: Path) -> dict[str, Any]:
    """The summary in a run folder's ``run.json`` ({} when it cannot be read)."""
    try:
        summary = json.loads((path / RUN_FILE).read_text(encoding="utf-8")).get("summary", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return summary if isinstance(summary, dict) else {}


def _measure(config: RunConfig, repetition: int, design: SweepDesign, *, probe: bool) -> tuple[Any, dict[str, Any]]:
    """One run (after a speed probe when ``probe``); return the result and its sweep summary."""
    before = probe_seconds() if probe else None
    result = drive.run(config, progress=False, run_id=run_key(config, repetition))
    summary = dict(result.summary, sweep_repetition=repetition, sweep_name=design.name,
                   config_key=config_key(config), speed_probe_s=[] if before is None else [before])
    return result, summary


def _write_run(result: Any, summary: dict[str, Any], path: Path) -> None:
    replace(result, summary=summary).write(path)


def _probes(path: Path) -> list[float]:
    return [float(p) for p in _summary(path).get("speed_probe_s") or [] if p is not None]


def folder_probes(folder: str | os.PathLike[str]) -> list[float]:
    """Every speed-probe time (seconds) stored with the finished runs under ``folder``."""
    return [p for path in sorted(Path(folder).glob(f"*/{RUN_FILE}")) for p in _probes(path.parent)]


def folder_probe_seconds(folder: str | os.PathLike[str]) -> float:
    """The usual probe time of the finished runs under ``folder`` (NaN when they have no probes;
    :func:`calibration.speed_probe.usual_probe_seconds`): the machine's speed the runs were
    measured at, stored with a calibration fitted on them."""
    return usual_probe_seconds(folder_probes(folder))


def _scalar_summary(summary: dict[str, Any]) -> dict[str, Any]:
    keep = (*COUNTED_COLUMNS, "model_message_bytes", "num_classes", "setup_s", "total_s",
            "wall_s", "augmented_fraction", "removed_fraction", "original_samples", "augmented_samples",
            "removed_samples", "sweep_repetition", "torch_version")
    out = {key: summary.get(key) for key in keep}
    shape = summary.get("sample_shape") or []
    values = 1
    for s in shape:
        values *= int(s)
    out["sample_values"] = values if shape else None
    out["sample_channels"] = int(shape[0]) if shape else None
    rounds = summary.get("rounds") or []
    round_s = [float(r["round_s"]) for r in rounds]
    round_bytes = [int(r["bytes"]) for r in rounds]
    out["mean_round_s"] = sum(round_s) / len(round_s) if round_s else float("nan")
    out["mean_round_bytes"] = sum(round_bytes) / len(round_bytes) if round_bytes else float("nan")
    return out


def load_runs(folder: str | os.PathLike[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read every finished run under ``folder`` (one level of sub-folders with a ``run.json``).

    Returns
    -------
    trace : pandas.DataFrame
        All trace rows (:data:`reference_impl.engine.trace.TRACE_COLUMNS`), and the rescheduling
        probe's rows when the folder holds them (:mod:`calibration.rescheduling_probe`), with the run's configuration
        (:data:`CONFIG_COLUMNS`; ``algorithm`` is already a trace column and the config's
        ``samples``, which would clash with the trace's, is joined as ``dataset_samples``) and ``config_key``,
        ``params``, ``train_flops_per_sample``, ``conv_input_values``, ``elementwise_values``,
        ``autograd_nodes``, ``conv_calls``, ``conv_padding_flops``, ``sample_values``, ``num_classes``,
        ``torch_version``
        joined on.
    runs : pandas.DataFrame
        One row per run: ``run_id``, ``folder``, ``config_key``, ``repetition``, the configuration,
        the summary's scalars (``params``, ``train_flops_per_sample``, ``model_message_bytes``,
        ``num_classes``, ``sample_values``, ``augmented_fraction``, ``removed_fraction``, ...),
        ``mean_round_s`` and ``mean_round_bytes`` (per-round means of the virtual clock), and
        the per-round table as ``round_table`` (a list of dicts: round, round_s, bytes, ...), and
        ``speed_probe_s``: the speed probe timed before the run (NaN for a run without one).

    Raises
    ------
    InputError
        ``folder`` does not exist or holds no finished run.
    """

    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"'runs' must be an existing folder (got {str(root)!r}).")
    folders = sorted(p.parent for p in root.glob(f"*/{RUN_FILE}"))
    if not folders:
        raise InputError(f"'runs' must hold finished runs (sub-folders with {RUN_FILE}) (got none in {str(root)!r}).")
    traces, rows = [], []
    known = {f.name for f in fields(RunConfig)}
    for path in folders:
        record = read_run(path)
        config = {key: value for key, value in record.config.items() if key in known}
        summary = record.summary
        key = summary.get("config_key") or config_key(RunConfig(**config))
        probes = [float(p) for p in summary.get("speed_probe_s") or [] if p is not None]
        row = {"run_id": record.run_id, "folder": str(path), "config_key": key,
               "repetition": summary.get("sweep_repetition", 0), **config, **_scalar_summary(summary),
               "round_table": summary.get("rounds") or [], "speed_probe_s": probes[0] if probes else math.nan}
        rows.append(row)
        trace = record.trace.copy()
        for column in CONFIG_COLUMNS:
            if column != "algorithm":
                trace[_TRACE_NAME.get(column, column)] = config.get(column)
        for column in ("config_key", *ARCHITECTURE_COLUMNS, "num_classes", "torch_version"):
            trace[column] = row[column]
        traces.append(trace)
    runs = pd.DataFrame(rows)
    probe = load_probe(root)
    if probe is not None:                   # the greedy timed alone (calibration.rescheduling_probe)
        traces.append(probe.drop(columns=["repetition", "measurement_version"]))
    return pd.concat(traces, ignore_index=True), runs
