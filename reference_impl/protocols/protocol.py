"""What a registered protocol is, and the check that the registry matches the cost model.

A :class:`Protocol` is one algorithm's order of events (its setup and its rounds, handed to an engine
as :class:`~reference_impl.protocols.steps.Branch` es) plus what the data side of a run needs to know
about it without running it (:mod:`reference_impl.workload`): which augmentation plan it makes and
how it groups a round's clients. Every algorithm the cost model prices
(``costmodel.model.protocols.ALGORITHMS``) has exactly one protocol and every protocol has a cost
counterpart; :func:`check_registry` says in one sentence which one is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from costmodel.errors import InputError, must
from reference_impl.config import RunConfig
from reference_impl.protocols.augmentation_plans import AugmentationPlan
from reference_impl.protocols.steps import ProtocolEngine

__all__ = ["Protocol", "check_registry"]


@dataclass(frozen=True, kw_only=True)
class Protocol:
    """One algorithm, as the engines and the workload planning use it.

    Attributes
    ----------
    name : the algorithm's name, as the cost model and ``RunConfig.algorithm`` spell it.
    title : how prose names it (``"Astraea"``).
    setup : ``setup(engine) -> end time`` runs the setup phase from 0 s on the virtual clock.
    run_round : ``run_round(engine, *, round, start_s) -> (end time, mean KL of the round's clients,
        mean KL of its training groups)``.
    setup_summary : ``setup_summary(engine) -> dict`` adds the setup's figures to a run's summary.
    plan_augmentation : ``plan_augmentation(config, class_sizes) -> AugmentationPlan | None``, the
        server's plan for the global class sizes (``None``: the algorithm augments nothing).
    plan_groups : ``plan_groups(config, histograms) -> tuple of index arrays`` into the rows of a
        round's (clients x K) histograms: the clients that train one after another in a group, in
        training order (Astraea's mediators); empty when every client trains on its own.
    proximal : whether its local steps carry a proximal term (FedProx): then a run needs
        ``RunConfig.mu > 0``, otherwise ``mu`` must be 0 (:meth:`check`).
    """

    name: str
    title: str
    setup: Callable[[ProtocolEngine], float]
    run_round: Callable[..., tuple[float, float, float]]
    setup_summary: Callable[[ProtocolEngine], dict[str, Any]]
    plan_augmentation: Callable[[RunConfig, np.ndarray], AugmentationPlan | None]
    plan_groups: Callable[[RunConfig, np.ndarray], tuple[np.ndarray, ...]]
    proximal: bool = False

    def check(self, config: RunConfig) -> RunConfig:
        """``config`` if this protocol can run it (its ``mu`` fits :attr:`proximal`), else one sentence."""
        if self.proximal and not config.mu > 0:
            raise must("mu", f"be > 0 for {self.name}, whose local steps carry a proximal term mu/2*||w - w_t||^2",
                       config.mu)
        if not self.proximal and config.mu != 0:
            raise must("mu", f"be 0 for {self.name}, which has no proximal term", config.mu)
        return config

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise must("name", "be a non-empty algorithm name", self.name)
        for hook in ("setup", "run_round", "setup_summary", "plan_augmentation", "plan_groups"):
            if not callable(getattr(self, hook)):
                raise must(hook, f"be a function of protocol {self.name!r}", getattr(self, hook))


def check_registry(protocols: Iterable[Protocol], algorithms: Sequence[str]) -> Mapping[str, Protocol]:
    """The protocols by name, in the cost model's order, once each is checked against ``algorithms``.

    Raises :class:`~costmodel.errors.InputError` (one sentence) when an entry is not a
    :class:`Protocol`, a name is registered twice, a protocol has no cost-model counterpart in
    ``algorithms``, or an algorithm of ``algorithms`` has no protocol.
    """
    by_name: dict[str, Protocol] = {}
    for protocol in protocols:
        if not isinstance(protocol, Protocol):
            raise must("protocol", "be a reference_impl.protocols.protocol.Protocol", type(protocol).__name__)
        if protocol.name in by_name:
            raise InputError(f"'protocol' must be registered once (got {protocol.name!r} twice).")
        by_name[protocol.name] = protocol
    priced = ", ".join(algorithms)
    for name in by_name:
        if name not in algorithms:
            raise InputError(f"'protocol' must name an algorithm the cost model prices "
                             f"(costmodel.model.protocols.ALGORITHMS: {priced}) (got {name!r}, which has no cost counterpart).")
    for name in algorithms:
        if name not in by_name:
            raise InputError(f"'algorithm' must have a protocol registered in reference_impl.protocols "
                             f"(registered: {', '.join(by_name) or 'none'}) (got {name!r} from costmodel.model.protocols.ALGORITHMS, "
                             f"which has none).")
    return MappingProxyType({name: by_name[name] for name in algorithms})
