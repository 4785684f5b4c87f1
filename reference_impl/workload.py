"""The data-dependent workload of a run, planned from its configuration alone: nothing trained, nothing timed.

What a run of Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) or FedAvg costs depends on
its timings and on its data: how many samples each client holds, how many the augmentation plan
adds to or removes from each, which clients each round selects, and (Astraea) which clients the
greedy rescheduling puts together into a mediator, whose visits run one after another. The data
side is a deterministic function of the configuration (:class:`~reference_impl.config.RunConfig`,
seed included), and cheap: :func:`plan_workload` draws it with exactly the calls and seeds a run
makes (:func:`reference_impl.data.federated.client_labels` for the partition, without any pixels;
the protocol's ``plan_augmentation`` and
:func:`reference_impl.protocols.augmentation_plans.plan_client_samples` with
:func:`reference_impl.engine.seeds.augmentation_rng` for the plan;
:func:`reference_impl.engine.seeds.selected_clients` and the protocol's ``plan_groups`` (Astraea:
:func:`reference_impl.protocols.rescheduling.form_mediators`) for the rounds), so the sizes and
mediators it returns are those the run will have (tested). The protocol is the registered one of
``config.algorithm`` (:mod:`reference_impl.protocols`).

This is how the cost model is told about a concrete data set without running it
(:func:`calibration.scenario.scenario_from_workload`): the mean and spread of the client sizes,
the plan's volume and its spread over clients, and how unequal the mediators' training loads are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from costmodel.errors import must
from reference_impl.config import RunConfig
from reference_impl.data.datasets import dataset_spec
from reference_impl.data.federated import client_labels
from reference_impl.engine.seeds import augmentation_rng, selected_clients
from reference_impl.protocols import protocol_of
from reference_impl.protocols.augmentation_plans import plan_client_samples

__all__ = ["RoundWorkload", "Workload", "plan_workload"]


@dataclass(frozen=True, kw_only=True, eq=False)
class RoundWorkload:
    """One round's clients and (Astraea) mediators.

    Attributes
    ----------
    round : int
    clients : np.ndarray of int64
        The round's selected clients, ascending.
    mediators : tuple of np.ndarray
        Astraea: each mediator's clients, in the order it trains them; FedAvg: empty (the
        protocol's ``plan_groups``).
    """

    round: int
    clients: np.ndarray
    mediators: tuple[np.ndarray, ...] = ()

    def mediator_samples(self, trained_sizes: np.ndarray) -> np.ndarray:
        """Samples each mediator's clients train on in one pass (one entry per mediator)."""
        sizes = np.asarray(trained_sizes)
        return np.array([float(sizes[members].sum()) for members in self.mediators])


@dataclass(frozen=True, kw_only=True, eq=False)
class Workload:
    """The planned data of one run (see the module docstring).

    Attributes
    ----------
    config : RunConfig
    num_classes : int
    original_sizes : np.ndarray of int64, shape (N,)
        Each client's samples before the augmentation plan.
    augmented_sizes, removed_sizes : np.ndarray of int64, shape (N,)
        Samples the plan makes (augmentation) and drops (downsampling) at each client; 0 for
        FedAvg or ``plan='none'``.
    rounds : tuple of RoundWorkload
    original_histograms, trained_histograms : np.ndarray of int64, shape (N, K), optional
        Each client's label counts before the plan (what it reports) and after it (what the
        rescheduling groups and every epoch trains on; equal to the original for FedAvg or
        ``plan='none'``). ``None`` when the workload was not planned from labels.
    """

    config: RunConfig
    num_classes: int
    original_sizes: np.ndarray
    augmented_sizes: np.ndarray
    removed_sizes: np.ndarray
    rounds: tuple[RoundWorkload, ...]
    original_histograms: np.ndarray | None = None
    trained_histograms: np.ndarray | None = None

    @property
    def trained_sizes(self) -> np.ndarray:
        """Each client's samples after the plan (kept + augmented): what one epoch of its training runs over."""
        return self.original_sizes - self.removed_sizes + self.augmented_sizes

    @property
    def net_growth(self) -> np.ndarray:
        """Each client's ``trained/original - 1`` (0 for an empty client)."""
        original = self.original_sizes.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            growth = self.trained_sizes / original - 1.0
        return np.where(original > 0, growth, 0.0)


def plan_workload(config: RunConfig) -> Workload:
    """Draw the data side of a run of ``config`` without running it (see the module docstring)."""
    if not isinstance(config, RunConfig):
        raise must("config", "be a RunConfig", type(config).__name__)
    protocol = protocol_of(config.algorithm)
    labels = client_labels(config)
    num_classes = int(dataset_spec(config.dataset).num_classes)
    original_histograms = np.stack([np.bincount(y, minlength=num_classes) for y in labels]).astype(np.int64)
    histograms = original_histograms.copy()
    original = histograms.sum(axis=1)
    augmented, removed = np.zeros_like(original), np.zeros_like(original)
    plan = protocol.plan_augmentation(config, histograms.sum(axis=0))
    if plan is not None:
        for k, y in enumerate(labels):
            drawn = plan_client_samples(y, plan, augmentation_rng(config, k))
            histograms[k] = (np.bincount(y[drawn.kept_indices], minlength=num_classes)
                             + np.bincount(y[drawn.augment_sources], minlength=num_classes))
            augmented[k], removed[k] = drawn.samples_augmented, drawn.samples_removed
    rounds = []
    for r in range(config.rounds):
        chosen = selected_clients(config, r)
        mediators = tuple(chosen[members] for members in protocol.plan_groups(config, histograms[chosen]))
        rounds.append(RoundWorkload(round=r, clients=chosen, mediators=mediators))
    return Workload(config=config, num_classes=num_classes, original_sizes=original, augmented_sizes=augmented,
                    removed_sizes=removed, rounds=tuple(rounds), original_histograms=original_histograms,
                    trained_histograms=histograms)
