"""The cost-model scenario of a measured run: what the model must be told to predict that run.

A run of the reference implementation of Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) or
FedAvg is described by its configuration (:class:`reference_impl.config.RunConfig`), its summary
(parameters, training FLOPs per sample, sample shape, classes, augmentation fractions) and its trace.
:func:`scenario_from_run` turns the three into a :class:`costmodel.model.scenario.Scenario`:

=======================  ===============================================================================
input                    from
=======================  ===============================================================================
clients_total, ...       the configuration: clients, clients_per_round, gamma (mediator_size), E, E_m, B,
                         rounds
classes                  the summary's ``num_classes``
samples_per_client(_sd)  mean and (population) standard deviation of the clients' *original* sizes
                         (:func:`client_sizes`)
params, F, V_c, V_e,     the summary's ``params``, ``train_flops_per_sample``, ``conv_input_values``,
N_node, C_k              ``elementwise_values``, ``autograd_nodes`` and ``conv_calls`` (as the engine
                         counted: :func:`reference_impl.models.model_features`)
sample_values            the product of the summary's ``sample_shape``
sample_channels          its first entry (C of C x H x W)
augmented_fraction, ...  the summary's ``augmented_fraction`` and ``removed_fraction`` (0 for FedAvg)
augmented_fraction_sd    the (population) standard deviation over the clients that trained of
                         ``effective/original - 1`` (:func:`augmented_fraction_spread`; 0 for FedAvg)
classes_per_client       the rescheduling rows' class updates over ``c*(c - M)/2``
                         (:func:`classes_held_from_trace`); planned: the clients' classes with samples
plans_augmentation       0 for the configuration's plan ``'none'``, else 1
bandwidths               ``inf``: the in-process engine has no link
bytes_per_param, header  4 (float32) and 16 (the wire format's header)
=======================  ===============================================================================

Without a run. :func:`scenario_from_workload` builds the same scenario from a configuration planned by
:func:`reference_impl.workload.plan_workload` (no training, no timing), and adds the mediators' load
spread (:func:`mediator_load_spread`, ``mediator_load_spread``) and the largest client's excess
(:func:`client_load_spread`, ``client_load_spread``) from the planned rounds; the validation
predicts from it. :func:`scenario_from_run` leaves both at 1.

Where the client sizes come from (a choice: the summary does not list them). Astraea's trace holds
every client's distribution report, whose ``samples`` is that client's original sample count: all
``N`` sizes, exactly. FedAvg has no report; there the sizes are read off its local-training rows
(``samples / E`` of every client that trained at least once), so with skewed client sizes the
mean and spread are those of the clients that were selected, an estimate of the population's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from costmodel.errors import InputError
from costmodel.model import blom_z_values
from costmodel.model.scenario import Scenario
from reference_impl.workload import Workload

__all__ = ["ARCHITECTURE_COLUMNS", "COUNTED_COLUMNS", "augmented_fraction_spread", "classes_held", "classes_held_from_trace", "client_load_spread", "client_sizes",
           "effective_sizes", "mediator_load_spread", "scenario_from_run", "scenario_from_workload"]


#: The architecture figures a scenario takes from a run's summary (or a counted model), besides its sample
#: shape: P, F, V_c, V_e, N, C_k and F_pad, as the engine counted them
#: (:func:`reference_impl.models.model_features`).
ARCHITECTURE_COLUMNS: tuple[str, ...] = ("params", "train_flops_per_sample", "conv_input_values",
                                         "elementwise_values", "autograd_nodes", "conv_calls", "conv_padding_flops",
                                         "sample_values", "sample_channels")
#: The ones a run records as counted (V and C_s also follow from its sample shape).
COUNTED_COLUMNS: tuple[str, ...] = tuple(name for name in ARCHITECTURE_COLUMNS
                                         if name not in ("sample_values", "sample_channels"))


def client_sizes(trace: pd.DataFrame, *, local_epochs: int) -> np.ndarray:
    """Original sample count of each client visible in ``trace`` (one run's rows).

    From the ``distribution_report`` rows when present (every client), else from the
    ``local_training`` rows (``samples / local_epochs``, the first visit of each client).

    Raises
    ------
    InputError
        The trace has neither kind of row.
    """
    reports = trace[trace["phase"] == "distribution_report"]
    if len(reports):
        return reports.drop_duplicates("entity")["samples"].to_numpy(dtype=np.float64)
    visits = trace[trace["phase"] == "local_training"]
    if not len(visits):
        raise InputError("'trace' must hold distribution_report or local_training rows to know the client sizes "
                         "(got neither).")
    first = visits.drop_duplicates("entity")
    return first["samples"].to_numpy(dtype=np.float64) / float(local_epochs)


def effective_sizes(trace: pd.DataFrame, *, local_epochs: int) -> np.ndarray:
    """Samples each client trained on (after augmentation and downsampling), from the
    ``local_training`` rows of one run: ``samples / local_epochs`` of every client that trained.

    Raises
    ------
    InputError
        The trace has no local-training row.
    """
    visits = trace[trace["phase"] == "local_training"]
    if not len(visits):
        raise InputError("'trace' must hold local_training rows to know the effective client sizes (got none).")
    return visits.drop_duplicates("entity")["samples"].to_numpy(dtype=np.float64) / float(local_epochs)


def augmented_fraction_spread(trace: pd.DataFrame, *, local_epochs: int) -> float:
    """Spread across clients of each client's own net growth by the augmentation plan, from one run.

    For every client with both a ``distribution_report`` row (its original size ``n_i``) and a
    ``local_training`` row (``samples / E``: the size it trained on, ``m_i``), the net growth is
    ``m_i/n_i - 1`` (= its augmented fraction minus its removed fraction); the result is the
    population standard deviation of those, the model's ``augmented_fraction_sd``. Augmentation
    falls on the clients holding the rare classes, so clients of equal original size end up with
    unequal training loads; this is what the model needs to price the slowest mediator.
    0 when the run has no distribution report (FedAvg) or fewer than two such clients.
    """
    reports = trace[trace["phase"] == "distribution_report"].drop_duplicates("entity")
    visits = trace[trace["phase"] == "local_training"].drop_duplicates("entity")
    if reports.empty or visits.empty:
        return 0.0
    original = reports.set_index("entity")["samples"].astype(np.float64)
    trained = visits.set_index("entity")["samples"].astype(np.float64) / float(local_epochs)
    both = original.index.intersection(trained.index)
    both = both[original.loc[both].to_numpy() > 0]
    if len(both) < 2:
        return 0.0
    growth = trained.loc[both].to_numpy() / original.loc[both].to_numpy() - 1.0
    return float(np.std(growth))


def scenario_from_run(config: Mapping[str, Any], summary: Mapping[str, Any], trace: pd.DataFrame) -> Scenario:
    """The :class:`~costmodel.model.scenario.Scenario` of one measured in-process run (see the module docstring).

    Parameters
    ----------
    config : mapping
        The run's configuration (``RunConfig.as_dict()`` or ``run.json``'s ``config``).
    summary : mapping
        The run's summary (``run.json``'s ``summary``): ``params``, ``train_flops_per_sample``,
        ``conv_input_values``, ``elementwise_values``, ``autograd_nodes``, ``conv_calls``,
        ``sample_shape`` (or ``sample_values``), ``num_classes``, and for Astraea
        ``augmented_fraction`` and ``removed_fraction``.
    trace : pandas.DataFrame
        The run's trace rows (for the client sizes and the spread of the augmented fraction).
    """
    sizes = client_sizes(trace, local_epochs=int(config["local_epochs"]))

    def fraction(name: str) -> float:
        value = summary.get(name)
        return 0.0 if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)

    augmented, removed = fraction("augmented_fraction"), fraction("removed_fraction")
    spread = augmented_fraction_spread(trace, local_epochs=int(config["local_epochs"])) if augmented or removed else 0.0
    classes = int(summary["num_classes"])
    return _in_process_scenario(config, summary, classes=classes, mean=float(np.mean(sizes)),
                                sd=float(np.std(sizes)), augmented=augmented, removed=removed, spread=spread,
                                held=classes_held_from_trace(trace, gamma=int(config["gamma"]), classes=classes))


def classes_held_from_trace(trace: pd.DataFrame, *, gamma: int, classes: int) -> float:
    """The model's ``classes_per_client`` of a run: from its rescheduling rows, whose class updates
    are ``K_c*c*(c - M)/2`` (mean over rounds), or ``classes`` when no row tells (FedAvg, or
    mediators of one client: the input does not matter then)."""
    rows = trace[trace["phase"] == "rescheduling"]
    c = rows["samples"].to_numpy(dtype=np.float64)
    pairs = c * (c - np.ceil(c / gamma)) / 2
    told = pairs > 0
    if not told.any():
        return float(classes)
    held = rows["flops"].to_numpy(dtype=np.float64)[told] / pairs[told]
    return float(min(max(np.mean(held), 1.0), classes))


def classes_held(histograms: np.ndarray | None, *, classes: int) -> float:
    """The mean number of classes with samples over the rows of ``histograms`` (clients x K), at least
    1; ``classes`` when there are none."""
    if histograms is None or not len(histograms):
        return float(classes)
    return float(min(max(np.count_nonzero(histograms, axis=1).mean(), 1.0), classes))


def _in_process_scenario(config: Mapping[str, Any], model: Mapping[str, Any], *, classes: int, mean: float, sd: float,
                         augmented: float, removed: float, spread: float, held: float, kappa: float = 1.0,
                         kappa_c: float = 1.0) -> Scenario:
    """The scenario of an in-process run: the configuration's counts, the model's size, the data's
    figures given, no link (bandwidths ``inf``), float32 parameters and the 16-byte wire header."""
    missing = [name for name in COUNTED_COLUMNS if model.get(name) is None]
    if missing:      # a run recorded before the engine counted them: never price it with another model's figures
        raise InputError(f"'model' must give {', '.join(missing)} (runs made before this version of the engine "
                         f"record them: run them again) (got none in a run of "
                         f"{config.get('model', '?')!r}).")
    if "sample_values" in model and model["sample_values"] is not None:
        values = int(model["sample_values"])
    else:
        values = int(math.prod(int(s) for s in model["sample_shape"]))
    if model.get("sample_channels") is not None:
        channels = int(model["sample_channels"])
    elif model.get("sample_shape"):
        channels = int(model["sample_shape"][0])
    else:
        raise InputError("'model' must give sample_channels or sample_shape (got neither).")
    return Scenario(
        clients_total=int(config["clients"]),
        clients_per_round=int(config["clients_per_round"]),
        classes=classes,
        samples_per_client=mean,
        samples_per_client_sd=sd,
        local_epochs=int(config["local_epochs"]),
        mediator_epochs=int(config["mediator_epochs"]),
        mediator_size=int(config["gamma"]),
        batch_size=int(config["batch_size"]),
        rounds=int(config["rounds"]),
        params=int(model["params"]),
        bytes_per_param=4.0,
        message_header_bytes=16.0,
        train_flops_per_sample=float(model["train_flops_per_sample"]),
        conv_input_values=int(model["conv_input_values"]),
        elementwise_values=int(model["elementwise_values"]),
        autograd_nodes=int(model["autograd_nodes"]),
        conv_calls=int(model["conv_calls"]),
        conv_padding_flops=float(model["conv_padding_flops"]),
        sample_values=values,
        sample_channels=channels,
        classes_per_client=held,
        plans_augmentation=int(config.get("plan", "tpds") != "none"),
        augmented_fraction=augmented,
        augmented_fraction_sd=spread,
        client_load_spread=kappa_c,
        mediator_load_spread=kappa,
        removed_fraction=removed,
        uplink_bits_per_s=math.inf,
        downlink_bits_per_s=math.inf,
        server_bits_per_s=math.inf,
    )


def mediator_load_spread(workload: Workload, *, spread_samples: float) -> float:
    """The model's ``mediator_load_spread`` (kappa) of a planned Astraea run.

    The model prices the slowest of a round's M mediators as a full one (``g = Min(gamma, c)``
    clients) whose per-pass load exceeds ``g`` mean clients by ``z_M*kappa*sqrt(g)*sd``
    (:mod:`costmodel.model`; ``sd`` = ``spread_samples``, the model's spread of the samples
    a client trains on, ``z_M`` Blom's expected largest of M normals). Over the planned rounds
    with at least two mediators, kappa is the measured excess of the most loaded mediator over
    ``g`` times the round's mean client, summed, over the model's excess at kappa = 1, summed:
    ``sum_r (max_m L_rm - g*mean_r) / sum_r (z_M*sqrt(g)*sd)``, at least 0. 1 (random grouping)
    when no round has two mediators or ``spread_samples`` is 0.
    """
    config = workload.config
    trained = workload.trained_sizes.astype(np.float64)
    group = min(int(config.gamma), int(config.clients_per_round))
    measured, modelled = 0.0, 0.0
    for planned in workload.rounds:
        if len(planned.mediators) < 2:
            continue
        loads = planned.mediator_samples(trained)
        measured += float(loads.max() - group * trained[planned.clients].mean())
        modelled += float(blom_z_values(len(planned.mediators))) * math.sqrt(group) * float(spread_samples)
    if not modelled > 0:
        return 1.0
    return max(0.0, measured / modelled)


def client_load_spread(workload: Workload) -> float:
    """The model's ``client_load_spread`` (kappa_c) of a planned run.

    The model prices the largest of a round's c clients as ``z_c*kappa_c*s_n`` samples above the
    mean (Blom's ``z_c``; ``s_n`` the population spread of the clients' original sizes, what the
    scenario holds). Over the planned rounds, kappa_c is the measured excess of the largest selected
    client over the round's mean, summed, over ``z_c*s_n`` summed, at least 0: 1 for normally
    distributed sizes, more for skewed ones. 1 when ``s_n`` is 0 or no round has two clients. The
    sizes are the original ones, as ``s_n`` (FedAvg trains on them).
    """
    sizes = workload.original_sizes.astype(np.float64)
    spread = float(sizes.std())
    measured, modelled = 0.0, 0.0
    for planned in workload.rounds:
        if planned.clients.size < 2:
            continue
        chosen = sizes[planned.clients]
        measured += float(chosen.max() - chosen.mean())
        modelled += float(blom_z_values(planned.clients.size)) * spread
    if not modelled > 0:
        return 1.0
    return max(0.0, measured / modelled)


def scenario_from_workload(workload: Workload, model: Mapping[str, Any]) -> Scenario:
    """The :class:`~costmodel.model.scenario.Scenario` of a run planned from its configuration alone.

    ``workload`` is :func:`reference_impl.workload.plan_workload` of the configuration (the
    clients' sizes, the augmentation plan's draw, the rounds' mediators: no training, no timing);
    ``model`` gives the architecture's ``params``, ``train_flops_per_sample``, ``conv_input_values``,
    ``elementwise_values``, ``autograd_nodes``, ``conv_calls``, ``conv_padding_flops``, ``sample_values``
    (or ``sample_shape``). Inputs:

    * ``samples_per_client(_sd)``: mean and population standard deviation of all N clients'
      original sizes;
    * Astraea: ``augmented_fraction`` and ``removed_fraction``, the plan's samples made and dropped
      over the original samples; ``augmented_fraction_sd``, the population standard deviation over
      the clients of their net growth ``trained/original - 1``; ``mediator_load_spread`` from the
      planned mediators (:func:`mediator_load_spread`); FedAvg: 0, 0, 0 and 1;
    * ``client_load_spread`` from the planned rounds' largest clients (:func:`client_load_spread`);
    * the configuration's N, c, K, gamma, E, E_m, B, R; bandwidths ``inf`` (in process), float32
      parameters and the wire format's 16-byte header.

    This is what the validation predicts from: nothing measured in the run enters the scenario.
    """
    config = workload.config
    original = workload.original_sizes.astype(np.float64)
    n, sd = float(original.mean()), float(original.std())
    total = float(original.sum())
    augmented = float(workload.augmented_sizes.sum()) / total if total else 0.0
    removed = float(workload.removed_sizes.sum()) / total if total else 0.0
    growth_sd = float(np.std(workload.net_growth[original > 0])) if (augmented or removed) else 0.0
    kappa = 1.0
    if config.algorithm == "astraea":
        kappa = mediator_load_spread(workload, spread_samples=sd * (1 + augmented - removed) + n * growth_sd)
    histograms = workload.trained_histograms if workload.trained_histograms is not None else \
        workload.original_histograms
    return _in_process_scenario(config.as_dict(), model, classes=int(workload.num_classes), mean=n, sd=sd,
                                augmented=augmented, removed=removed, spread=growth_sd,
                                held=classes_held(histograms, classes=int(workload.num_classes)), kappa=kappa,
                                kappa_c=client_load_spread(workload))
