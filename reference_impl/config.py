"""The configuration of one reference run, validated at construction.

A frozen, keyword-only dataclass: every field has a default from the papers' setups scaled to a
2-core machine, and every bad value raises :class:`~costmodel.errors.InputError` with one line
naming the field, the rule and the value.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from costmodel.errors import InputError, check_int, check_number, must
from costmodel.phases import ALGORITHMS

__all__ = ["AUGMENTATION_PLANS", "TIMERS", "RunConfig"]

AUGMENTATION_PLANS: tuple[str, ...] = ("tpds", "iccd", "none")
TIMERS: tuple[str, ...] = ("thread", "wall")


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """Everything that defines a reference run of Astraea or FedAvg.

    Parameters
    ----------
    algorithm : ``"astraea"`` or ``"fedavg"``.
    dataset : ``"digits"`` (scikit-learn's real handwritten digits), ``"emnist-shape"`` (generated
        1x28x28, 47 classes) or ``"cinic-shape"`` (generated 3x32x32, 10 classes).
    samples : samples to generate for the shape-only datasets (ignored for ``digits``).
    model : ``"tpds"`` (the TPDS EMNIST CNN), ``"keras-cifar"`` or ``"scaled"`` (width family).
    model_width : width multiplier of the ``"scaled"`` family.
    clients, clients_per_round : N and c.
    gamma : mediator size (clients per mediator), Astraea only.
    local_epochs, mediator_epochs : E and E_m.
    batch_size : B.
    rounds : R synchronization rounds.
    learning_rate : Adam's learning rate (the papers use 1e-3).
    plan, tau_d, alpha : augmentation plan (TPDS z-score with threshold ``tau_d``, ICCD with
        exponent ``alpha``, or none).
    global_imbalance, imbalance_ratio : class-frequency shape (``none``, ``long-tail``,
        ``half-normal``) and the ratio of the rarest to the largest class.
    classes_per_client : local imbalance: the dominant classes each client holds.
    size_skew : ``0`` for equal client sizes, otherwise the sigma of a lognormal size spread.
    seed : one seed for data, model initialisation, client selection and training.
    threads : torch intra-op threads (1 = one device is one core).
    timer : ``"thread"`` (each event's duration is the thread's CPU time, robust to other processes
        on a shared machine) or ``"wall"`` (``time.perf_counter``).
    evaluate : test accuracy after every round (recorded as ``evaluation``, outside the overhead).
    """

    algorithm: str = "astraea"
    dataset: str = "digits"
    samples: int = 6000
    model: str = "tpds"
    model_width: float = 1.0
    clients: int = 20
    clients_per_round: int = 10
    gamma: int = 5
    local_epochs: int = 1
    mediator_epochs: int = 1
    batch_size: int = 10
    rounds: int = 5
    learning_rate: float = 1e-3
    plan: str = "tpds"
    tau_d: float = 3.0
    alpha: float = 0.5
    global_imbalance: str = "long-tail"
    imbalance_ratio: float = 0.1
    classes_per_client: int = 2
    size_skew: float = 0.0
    seed: int = 0
    threads: int = 1
    timer: str = "thread"
    evaluate: bool = True

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise must("algorithm", f"be one of {', '.join(ALGORITHMS)}", self.algorithm)
        if self.timer not in TIMERS:
            raise must("timer", f"be one of {', '.join(TIMERS)}", self.timer)
        if self.plan not in AUGMENTATION_PLANS:
            raise must("plan", f"be one of {', '.join(AUGMENTATION_PLANS)}", self.plan)
        check_int("clients", self.clients, minimum=1)
        check_int("clients_per_round", self.clients_per_round, minimum=1)
        if self.clients_per_round > self.clients:
            raise InputError(f"'clients_per_round' must be <= 'clients' ({self.clients}) (got {self.clients_per_round}).")
        check_int("gamma", self.gamma, minimum=1)
        check_int("local_epochs", self.local_epochs, minimum=1)
        check_int("mediator_epochs", self.mediator_epochs, minimum=1)
        check_int("batch_size", self.batch_size, minimum=1)
        check_int("rounds", self.rounds, minimum=1)
        check_int("samples", self.samples, minimum=1)
        check_int("classes_per_client", self.classes_per_client, minimum=1)
        check_int("seed", self.seed, minimum=0)
        check_int("threads", self.threads, minimum=1)
        check_number("learning_rate", self.learning_rate, exclusive_minimum=0)
        check_number("model_width", self.model_width, exclusive_minimum=0)
        check_number("tau_d", self.tau_d, exclusive_minimum=0)
        check_number("alpha", self.alpha, minimum=0, maximum=1)
        check_number("imbalance_ratio", self.imbalance_ratio, exclusive_minimum=0, maximum=1)
        check_number("size_skew", self.size_skew, minimum=0)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
