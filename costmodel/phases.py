"""The phase vocabulary shared by the trace, the symbols, the plots and the report.

Phases follow the protocol of Astraea (Duan et al., ICCD 2019; TPDS 32(1), 2021) and of FedAvg
(McMahan et al., AISTATS 2017). Names are used verbatim everywhere; nothing else may invent one.

Setup phases run once per run (again only if client distributions change). ``rescheduling`` is the
exception that is *listed* with setup, as DESIGN.md does, but runs in every round: Astraea forms its
mediators from the clients selected for that round, which is why the papers state its cost as
O(c^2) in the clients per round. Its trace rows carry the round number.
"""

from __future__ import annotations

__all__ = [
    "ALGORITHMS",
    "ALL_PHASES",
    "CATEGORIES",
    "EVALUATION",
    "PHASE_CATEGORY",
    "ROUND_PHASES",
    "SETUP_PHASES",
    "SETUP_ROUND",
]

ALGORITHMS: tuple[str, ...] = ("astraea", "fedavg")

SETUP_PHASES: tuple[str, ...] = (
    "distribution_report",
    "augmentation_plan",
    "augmentation",
    "rescheduling",
)
ROUND_PHASES: tuple[str, ...] = (
    "model_broadcast",
    "client_download",
    "local_training",
    "client_upload",
    "mediator_upload",
    "aggregation",
)
EVALUATION = "evaluation"
ALL_PHASES: tuple[str, ...] = SETUP_PHASES + ROUND_PHASES + (EVALUATION,)

#: The round number of setup events in a trace.
SETUP_ROUND = -1

#: The four overhead categories, in the order practitioners ask about them.
CATEGORIES: tuple[str, ...] = (
    "training_compute",
    "data_augmentation",
    "communication",
    "coordination",
)

#: Which overhead category each phase's cost falls into. ``evaluation`` is outside the overhead.
PHASE_CATEGORY: dict[str, str] = {
    "distribution_report": "data_augmentation",
    "augmentation_plan": "data_augmentation",
    "augmentation": "data_augmentation",
    "rescheduling": "coordination",
    "model_broadcast": "communication",
    "client_download": "communication",
    "local_training": "training_compute",
    "client_upload": "communication",
    "mediator_upload": "communication",
    "aggregation": "coordination",
}
