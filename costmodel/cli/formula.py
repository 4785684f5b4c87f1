"""``astraea-cost formula``: the cost model's expression for a phase, the round, the setup, a total,
or an overhead category, with the meaning of its symbols, or as LaTeX.

For a phase or a total, ``--algorithm`` names whose cost (default Astraea); for an overhead category,
Astraea's overhead over the baseline ``--algorithm`` names (default FedAvg).
"""

from __future__ import annotations

import argparse

import sympy as sp

from costmodel import model as ex
from costmodel.contracts.vocabulary import CATEGORIES
from costmodel.errors import InputError
from costmodel.model.protocols import ALGORITHM_COSTS, BASELINES, SUBJECT, check_algorithm
from costmodel.model.quantities import NAME_OF, QUANTITIES

__all__ = ["run"]

_TOTALS = ("round", "setup", "total")


def _expression(args: argparse.Namespace) -> tuple[str, sp.Expr]:
    target = args.target
    quantity = args.quantity
    algorithm = check_algorithm(args.algorithm)
    if args.scope is not None and target not in CATEGORIES:
        raise InputError(f"'scope' must only be given for an overhead category ({', '.join(CATEGORIES)}); "
                         f"{target!r} has its own scope (got --scope {args.scope}).")
    scope = args.scope or "round"
    if target in ex.MODEL_PHASES:
        return (f"{algorithm} {target} {quantity} ({ex.PHASE_SCOPE[target]})",
                getattr(ex.phase_costs(algorithm)[target], quantity))
    if target in _TOTALS:
        if quantity == "flops":
            raise InputError(f"'quantity' must be seconds or bytes for {target!r} (got 'flops').")
        function = getattr(ex, f"{target}_{quantity}")
        return f"{algorithm} {target} {quantity}", function(algorithm)
    if target in CATEGORIES:
        if quantity == "flops":
            raise InputError("'quantity' must be seconds or bytes for an overhead category (got 'flops').")
        baseline = BASELINES[0] if algorithm == SUBJECT else check_algorithm(algorithm, choices=BASELINES)
        return (f"overhead {target} {quantity} ({scope}), {ALGORITHM_COSTS[SUBJECT].title} minus "
                f"{ALGORITHM_COSTS[baseline].title}",
                getattr(ex.overhead(scope, baseline)[target], quantity))
    choices = ", ".join([*ex.MODEL_PHASES, *_TOTALS, *CATEGORIES])
    raise InputError(f"'PHASE' must be one of {choices} (got {target!r}).")


def run(args: argparse.Namespace) -> int:
    """Handle ``astraea-cost formula``."""
    title, expression = _expression(args)
    if args.latex:
        print(sp.latex(expression))
        return 0
    print(f"{title} =")
    print("  " + sp.sstr(expression))
    symbols = sorted(expression.free_symbols, key=lambda s: list(QUANTITIES).index(NAME_OF[s])
                     if s in NAME_OF else len(QUANTITIES))
    if symbols:
        print("where")
        width = max(len(str(s)) for s in symbols)
        for symbol in symbols:
            name = NAME_OF.get(symbol)
            if name is None:
                continue
            quantity = QUANTITIES[name]
            print(f"  {str(symbol):<{width}}  {name} [{quantity.unit}]: {quantity.meaning}")
    return 0
