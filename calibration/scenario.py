"""The cost-model scenario of a measured run: what the model must be told to predict that run.

A run of the reference implementation of Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) or
FedAvg is described by its configuration (:class:`reference_impl.config.RunConfig`), its summary
(parameters, training FLOPs per sample, sample shape, classes, augmentation fractions) and its trace.
:func:`scenario_from_run` turns the three into a :class:`costmodel.symbols.Scenario`:

=======================  ===============================================================================
input                    from
=======================  ===============================================================================
clients_total, ...       the configuration: clients, clients_per_round, gamma (mediator_size), E, E_m, B,
                         rounds
classes                  the summary's ``num_classes``
samples_per_client(_sd)  mean and (population) standard deviation of the clients' *original* sizes
                         (:func:`client_sizes`)
params, F                the summary's ``params`` and ``train_flops_per_sample`` (as the engine counted)
sample_values            the product of the summary's ``sample_shape``
augmented_fraction, ...  the summary's ``augmented_fraction`` and ``removed_fraction`` (0 for FedAvg)
augmented_fraction_sd    the (population) standard deviation over the clients that trained of
                         ``effective/original - 1`` (:func:`augmented_fraction_spread`; 0 for FedAvg)
bandwidths               ``inf``: the in-process engine has no link
bytes_per_param, header  4 (float32) and 16 (the wire format's header)
=======================  ===============================================================================

Where the client sizes come from (a choice: the summary does not list them). Astraea's trace holds
every client's distribution report, whose ``samples`` is that client's original sample count: all
``N`` sizes, exactly. FedAvg has no report; there the sizes are read off its local-training rows
(``samples / E`` of every client that trained at least once), so with skewed client sizes the
mean and spread are those of the clients that were selected, an estimate of the population's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from costmodel.errors import InputError
from costmodel.symbols import Scenario

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["augmented_fraction_spread", "client_sizes", "effective_sizes", "scenario_from_run"]


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
    """The :class:`~costmodel.symbols.Scenario` of one measured in-process run (see the module docstring).

    Parameters
    ----------
    config : mapping
        The run's configuration (``RunConfig.as_dict()`` or ``run.json``'s ``config``).
    summary : mapping
        The run's summary (``run.json``'s ``summary``): ``params``, ``train_flops_per_sample``,
        ``sample_shape`` (or ``sample_values``), ``num_classes``, and for Astraea
        ``augmented_fraction`` and ``removed_fraction``.
    trace : pandas.DataFrame
        The run's trace rows (for the client sizes and the spread of the augmented fraction).
    """
    sizes = client_sizes(trace, local_epochs=int(config["local_epochs"]))
    if "sample_values" in summary and summary["sample_values"] is not None:
        values = int(summary["sample_values"])
    else:
        values = int(math.prod(int(s) for s in summary["sample_shape"]))

    def fraction(name: str) -> float:
        value = summary.get(name)
        return 0.0 if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)

    augmented, removed = fraction("augmented_fraction"), fraction("removed_fraction")
    sd = float(np.std(sizes))
    spread = augmented_fraction_spread(trace, local_epochs=int(config["local_epochs"])) if augmented or removed else 0.0
    return Scenario(
        clients_total=int(config["clients"]),
        clients_per_round=int(config["clients_per_round"]),
        classes=int(summary["num_classes"]),
        samples_per_client=float(np.mean(sizes)),
        samples_per_client_sd=sd,
        local_epochs=int(config["local_epochs"]),
        mediator_epochs=int(config["mediator_epochs"]),
        mediator_size=int(config["gamma"]),
        batch_size=int(config["batch_size"]),
        rounds=int(config["rounds"]),
        params=int(summary["params"]),
        bytes_per_param=4.0,
        message_header_bytes=16.0,
        train_flops_per_sample=float(summary["train_flops_per_sample"]),
        sample_values=values,
        augmented_fraction=augmented,
        augmented_fraction_sd=spread,
        removed_fraction=removed,
        uplink_bits_per_s=math.inf,
        downlink_bits_per_s=math.inf,
        server_bits_per_s=math.inf,
    )
