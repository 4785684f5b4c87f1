"""The phase vocabulary shared by the trace, the model, the plots and the report, and the category labels.

Phases follow the protocol of Astraea (Duan et al., ICCD 2019; TPDS 32(1), 2021) and of FedAvg
(McMahan et al., AISTATS 2017). Names are used verbatim everywhere; nothing else may invent one.

Setup phases run once per run (again only if client distributions change). ``rescheduling`` is the
exception that is *listed* with setup (docs/design.md) but runs in every round: Astraea forms its
mediators from the clients selected for that round, which is why the papers state its cost as
O(c^2) in the clients per round. Its trace rows carry the round number, and its scope is ``round``.

The algorithms are not listed here: :mod:`costmodel.model.protocols` registers them.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = [
    "ALL_PHASES",
    "CATEGORIES",
    "CATEGORY_COLORS",
    "CATEGORY_NAMES",
    "CATEGORY_SHORT_NAMES",
    "EVALUATION",
    "MODEL_PHASES",
    "OVERHEAD_SCOPES",
    "PHASE_SCOPE",
    "ROUND_PHASES",
    "SETUP_PHASES",
    "SETUP_ROUND",
]

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
#: Every phase the model prices, setup first, in the vocabulary's order (evaluation is outside).
MODEL_PHASES: tuple[str, ...] = SETUP_PHASES + ROUND_PHASES
#: Whether a phase is paid once (``setup``) or every round (``round``). Rescheduling runs every round.
PHASE_SCOPE: Mapping[str, str] = MappingProxyType({
    **{phase: "setup" for phase in SETUP_PHASES if phase != "rescheduling"},
    "rescheduling": "round",
    **{phase: "round" for phase in ROUND_PHASES},
})
#: Scopes of the overhead decomposition.
OVERHEAD_SCOPES: tuple[str, ...] = ("round", "setup", "total")

#: The round number of setup events in a trace.
SETUP_ROUND = -1

#: The four overhead categories, in the order practitioners ask about them.
CATEGORIES: tuple[str, ...] = (
    "training_compute",
    "data_augmentation",
    "communication",
    "coordination",
)
#: Each category in words (tables, figures, the report, the model page).
CATEGORY_NAMES: Mapping[str, str] = MappingProxyType({
    "training_compute": "training compute",
    "data_augmentation": "data augmentation",
    "communication": "communication",
    "coordination": "coordination and synchronization",
})
#: Each category in one word, for narrow table columns.
CATEGORY_SHORT_NAMES: Mapping[str, str] = MappingProxyType({
    "training_compute": "training",
    "data_augmentation": "augmentation",
    "communication": "communication",
    "coordination": "coordination",
})
#: One fixed colour per category (colour-blind safe Okabe-Ito), the same in every figure.
CATEGORY_COLORS: Mapping[str, str] = MappingProxyType({
    "training_compute": "#0072B2",
    "data_augmentation": "#E69F00",
    "communication": "#009E73",
    "coordination": "#CC79A7",
})
