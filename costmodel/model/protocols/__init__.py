"""The algorithms the cost model prices, registered once.

Each algorithm is one module here declaring an :class:`~costmodel.model.protocols.base.AlgorithmCost`;
:data:`ALGORITHM_COSTS` registers them, in the order tables and figures show them, and everything
else (phase costs, totals, overhead, predictions, the report, the command line's ``--algorithm``
choices, and the reference implementation's protocol registry, which must match it) iterates this
registry. Registration checks each declaration and fails at import, in one sentence, for a name
registered twice, an unknown role, a setup phase outside the vocabulary, or not exactly one subject.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from costmodel.contracts.vocabulary import SETUP_PHASES
from costmodel.errors import InputError
from costmodel.model.protocols import astraea, fedavg, fedprox
from costmodel.model.protocols.base import ROLES, AlgorithmCost, PhaseCost, RoundParts

__all__ = [
    "ALGORITHMS",
    "ALGORITHM_COSTS",
    "BASELINES",
    "SUBJECT",
    "AlgorithmCost",
    "PhaseCost",
    "RoundParts",
    "algorithm_cost",
    "check_algorithm",
    "register",
]


def register(*costs: AlgorithmCost) -> Mapping[str, AlgorithmCost]:
    """Check the declarations and return them as a read-only registry (see the module docstring)."""
    table: dict[str, AlgorithmCost] = {}
    for cost in costs:
        if not isinstance(cost, AlgorithmCost):
            raise TypeError(f"an algorithm's cost must be an AlgorithmCost (got {type(cost).__name__}).")
        if cost.name in table:
            raise ValueError(f"algorithm {cost.name!r} is registered twice in costmodel.model.protocols.")
        if cost.role not in ROLES:
            raise ValueError(f"algorithm {cost.name!r} has role {cost.role!r}; roles are {', '.join(ROLES)}.")
        unknown = sorted(set(cost.setup()) - set(SETUP_PHASES))
        if unknown:
            raise ValueError(f"algorithm {cost.name!r} prices setup phases outside the vocabulary: {', '.join(unknown)}.")
        table[cost.name] = cost
    subjects = [name for name, cost in table.items() if cost.role == "subject"]
    if len(subjects) != 1:
        raise ValueError(f"exactly one algorithm must be the subject of the overhead (got {subjects}).")
    return MappingProxyType(table)


#: Every algorithm of the cost model, by name, in display order.
ALGORITHM_COSTS: Mapping[str, AlgorithmCost] = register(astraea.COST, fedavg.COST, fedprox.COST)
#: Their names.
ALGORITHMS: tuple[str, ...] = tuple(ALGORITHM_COSTS)
#: The algorithm whose overhead is reported (Astraea).
SUBJECT: str = next(name for name, cost in ALGORITHM_COSTS.items() if cost.role == "subject")
#: The algorithms it is compared against, the default first.
BASELINES: tuple[str, ...] = tuple(name for name, cost in ALGORITHM_COSTS.items() if cost.role == "baseline")


def check_algorithm(name: object, *, label: str = "algorithm", choices: tuple[str, ...] = ALGORITHMS) -> str:
    """``name`` if it is one of ``choices`` (default: every algorithm), else one :class:`InputError` line."""
    if name not in choices:
        raise InputError(f"'{label}' must be one of {', '.join(choices)} (got {name!r}).")
    return str(name)


def algorithm_cost(name: str) -> AlgorithmCost:
    """The declaration of algorithm ``name``."""
    return ALGORITHM_COSTS[check_algorithm(name)]
