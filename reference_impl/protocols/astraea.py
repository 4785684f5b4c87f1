"""Astraea (Duan et al., ICCD 2019; TPDS 32(1), 2021): its order of events, for either engine.

Setup (once):

1. ``distribution_report``: every client sends its label histogram (wire format, int64 counts); the
   server sums them into the global class sizes. Clients report in parallel.
2. ``augmentation_plan``: the server computes the TPDS z-score plan (threshold ``tau_d``; the
   minority target of the papers' text or, ``tpds-printed``, as printed) or the ICCD ``alpha`` plan
   (:mod:`reference_impl.protocols.augmentation_plans`).
3. ``augmentation``: every client, in parallel, downsamples and augments its data with batched
   random shift, rotation, shear and zoom (:mod:`reference_impl.data.augmentation`). Augmented
   samples stay in the client's data, so every later epoch is longer.

Per round:

4. ``rescheduling``: the server forms mediators from the round's selected clients by greedy
   KL-to-uniform (:mod:`reference_impl.protocols.rescheduling`). The papers state its cost as O(c^2) in
   the clients per round, so it runs on the round's clients, every round. The server knows each client's
   post-augmentation histogram (it follows from the report and the plan; we use the exact counts).
5. ``model_broadcast``: the server sends the global model to each mediator (virtual, on the server
   or an edge server; the papers count these messages in their traffic, so we serialize them).
6. Each mediator, in parallel with the others, runs E_m mediator epochs; in each it passes the model
   through its clients one after another (``client_download``, ``local_training`` with E local
   epochs, ``client_upload``): sequential SGD.
7. ``mediator_upload`` and ``aggregation``: the server averages the mediators' models weighted by
   their clients' sample counts (:mod:`reference_impl.engine.aggregation` explains the sign misprint).

This module is the one statement of that order. It drives any engine that provides
:class:`~reference_impl.protocols.steps.ProtocolEngine` (the in-process engine or the distributed
server): each mediator's chain of steps 5-7 is a :class:`~reference_impl.protocols.steps.Branch`, and
the engine runs the mediators' branches one after another on the virtual clock or concurrently on
worker processes. :data:`PROTOCOL` registers it (:mod:`reference_impl.protocols`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from costmodel.errors import must
from costmodel.contracts.vocabulary import SETUP_ROUND
from reference_impl.config import RunConfig
from reference_impl.protocols.augmentation_plans import AugmentationPlan, iccd_plan, tpds_plan, tpds_printed_plan
from reference_impl.protocols.protocol import Protocol
from reference_impl.protocols.rescheduling import form_mediators, kl_to_uniform
from reference_impl.protocols.steps import Branch, Hop, ProtocolEngine, Visit

__all__ = ["PLAN_MAKERS", "PROTOCOL", "make_plan", "plan_augmentation", "plan_groups", "run_round", "setup",
           "setup_summary"]


#: ``config.plan`` -> the server's plan for the global class sizes: ``tpds`` (z-score, the text's
#: minority target), ``tpds-printed`` (z-score, the printed target) or ``iccd`` (alpha).
PLAN_MAKERS: dict[str, Callable[[RunConfig, np.ndarray], AugmentationPlan]] = {
    "tpds": lambda config, class_sizes: tpds_plan(class_sizes, tau_d=config.tau_d),
    "tpds-printed": lambda config, class_sizes: tpds_printed_plan(class_sizes, tau_d=config.tau_d),
    "iccd": lambda config, class_sizes: iccd_plan(class_sizes, alpha=config.alpha),
}


def make_plan(config: RunConfig, class_sizes: np.ndarray) -> AugmentationPlan:
    """The server's augmentation plan for the global class sizes: ``config.plan`` is ``tpds`` (z-score,
    the text's minority target), ``tpds-printed`` (z-score, the printed target) or ``iccd`` (alpha)."""
    maker = PLAN_MAKERS.get(config.plan)
    if maker is None:
        raise must("plan", "name an augmentation plan (tpds, tpds-printed or iccd) to make one", config.plan)
    return maker(config, class_sizes)


def plan_augmentation(config: RunConfig, class_sizes: np.ndarray) -> AugmentationPlan | None:
    """:func:`make_plan`, or ``None`` for ``plan='none'`` (no augmentation step)."""
    return None if config.plan == "none" else make_plan(config, class_sizes)


def plan_groups(config: RunConfig, histograms: np.ndarray) -> tuple[np.ndarray, ...]:
    """The mediators the greedy rescheduling forms from a round's (clients x K) histograms, as row indices."""
    return form_mediators(histograms, gamma=config.gamma).mediators


def setup(engine: ProtocolEngine) -> float:
    """Distribution report, augmentation plan and augmentation; return the setup's end time."""
    config = engine.config
    recorder = engine.recorder
    clients = range(config.clients)
    received = []
    report_end = 0.0
    for k, (duration, size, counts) in zip(clients, engine.report(clients)):
        received.append(counts)
        recorder.record(round=SETUP_ROUND, phase="distribution_report", entity=f"client:{k}", start_s=0.0,
                        duration_s=duration, bytes=size, samples=int(counts.sum()))
        report_end = max(report_end, duration)
    engine.original_samples = int(np.sum(received))
    engine.augmented_samples = 0
    engine.removed_samples = 0
    if config.plan == "none":
        engine.plan = None
        return report_end

    t0 = engine.clock()
    class_sizes = np.sum(received, axis=0)
    plan = make_plan(config, class_sizes)
    duration = engine.clock() - t0
    recorder.record(round=SETUP_ROUND, phase="augmentation_plan", entity="server", start_s=report_end,
                    duration_s=duration, samples=int(class_sizes.sum()))
    engine.plan = plan
    plan_end = report_end + duration

    setup_end = plan_end
    for k, (duration, augmented, removed) in zip(clients, engine.augment(clients, plan=plan, class_sizes=class_sizes)):
        engine.augmented_samples += augmented
        engine.removed_samples += removed
        recorder.record(round=SETUP_ROUND, phase="augmentation", entity=f"client:{k}", start_s=plan_end,
                        duration_s=duration, samples=augmented)
        setup_end = max(setup_end, plan_end + duration)
    return setup_end


def setup_summary(engine: ProtocolEngine) -> dict[str, Any]:
    original = engine.original_samples
    return {
        "original_samples": original,
        "augmented_samples": engine.augmented_samples,
        "removed_samples": engine.removed_samples,
        "augmented_fraction": engine.augmented_samples / original,
        "removed_fraction": engine.removed_samples / original,
        "storage_growth": (engine.augmented_samples - engine.removed_samples) / original,
        "plan_ratios": None if engine.plan is None else [float(r) for r in engine.plan.ratios],
    }


def run_round(engine: ProtocolEngine, *, round: int, start_s: float) -> tuple[float, float, float]:
    """One synchronization round; return (end time, mean KL of clients, mean KL of mediators)."""
    config = engine.config
    selected = engine.select_clients(round)
    histograms = engine.histograms(selected)

    t0 = engine.clock()
    assignment = form_mediators(histograms, gamma=config.gamma)
    duration = engine.clock() - t0
    engine.recorder.record(round=round, phase="rescheduling", entity="server", start_s=start_s, duration_s=duration,
                           samples=len(selected), steps=assignment.kl_evaluations,
                           flops=assignment.class_updates)

    branches = [Branch(name=f"mediator {m}", steps=(
        Hop("model_broadcast", f"mediator:{m}"),
        *(Visit(int(k), visit) for visit in range(config.mediator_epochs) for k in selected[members]),
        Hop("mediator_upload", f"mediator:{m}"),
    )) for m, members in enumerate(assignment.mediators)]
    vectors, ends = engine.run_branches(branches, round=round, start_s=start_s + duration)
    weights = [float(histograms[members].sum()) for members in assignment.mediators]  # the clients' samples
    end_s = engine.aggregate(vectors, weights, round=round, start_s=max(ends))
    pooled = np.stack([histograms[members].sum(axis=0) for members in assignment.mediators])
    return end_s, float(np.mean(kl_to_uniform(histograms))), float(np.mean(kl_to_uniform(pooled)))


#: Astraea in the registry (:mod:`reference_impl.protocols`).
PROTOCOL = Protocol(name="astraea", title="Astraea", setup=setup, run_round=run_round, setup_summary=setup_summary,
                    plan_augmentation=plan_augmentation, plan_groups=plan_groups)
