"""The configuration of one reference run, validated at construction.

A frozen, keyword-only dataclass: every field has a default from the papers' setups scaled to a
2-core machine, and every bad value raises :class:`~costmodel.errors.InputError` with one line
naming the field, the rule and the value.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from costmodel.errors import InputError, check_int, check_number, must
from costmodel.model.protocols import ALGORITHMS

__all__ = ["AUGMENTATION_PLANS", "DATASET_NAMES", "LOCAL_IMBALANCES", "MODEL_NAMES", "MODEL_SPEC_FORMS",
           "PAPERS_DIRICHLET_ALPHA", "TIMERS", "WIDTH_MODELS", "RunConfig", "check_model_name", "is_model_spec"]

#: ``tpds``: the TPDS z-score plan as the papers' text describes it; ``tpds-printed``: with the
#: minority target as printed (the papers' data growth); ``iccd``; ``none``
#: (:mod:`reference_impl.protocols.augmentation_plans`).
AUGMENTATION_PLANS: tuple[str, ...] = ("tpds", "tpds-printed", "iccd", "none")
#: Names of :data:`reference_impl.data.partition.LOCAL_IMBALANCE_KINDS` (a test checks they agree).
LOCAL_IMBALANCES: tuple[str, ...] = ("classes", "dirichlet", "none")
#: The Dirichlet concentration at which clients' mean KL to uniform is the TPDS paper's 0.550 nats on
#: its EMNIST setup (500 clients of 225.6 samples, 47 classes, a long tail of ratio 0.09897);
#: :mod:`reference_impl.studies.imbalance` measures it.
PAPERS_DIRICHLET_ALPHA = 2.0
#: Names of :data:`reference_impl.data.datasets.DATASETS` and :data:`reference_impl.models.MODELS`, kept here
#: so that validating a configuration needs no torch (a test checks they agree).
DATASET_NAMES: tuple[str, ...] = ("digits", "emnist-shape", "cinic-shape")
MODEL_NAMES: tuple[str, ...] = ("tpds", "keras-cifar", "scaled", "mlp", "resnet", "mobilenet", "vit")
#: The built-in families whose size ``model_width`` scales (the others are fixed models).
WIDTH_MODELS: tuple[str, ...] = ("scaled", "mlp", "resnet", "mobilenet", "vit")
#: How a model of the user's own is named (:mod:`reference_impl.models.loading` loads it).
MODEL_SPEC_FORMS = "PATH.py:FUNCTION or package.module:FUNCTION"
TIMERS: tuple[str, ...] = ("thread", "wall")

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _dotted(text: str) -> bool:
    return bool(text) and all(_IDENTIFIER.match(part) for part in text.split("."))


def is_model_spec(name: object) -> bool:
    """Whether ``name`` has the form of a model of one's own: ``PATH.py:FUNCTION`` or
    ``package.module:FUNCTION`` (FUNCTION a name, or dotted names inside the module). Form only: whether
    the file exists and the callable builds a model is checked when it is loaded."""
    if not isinstance(name, str):
        return False
    target, colon, function = name.rpartition(":")
    if not colon or not _dotted(function):
        return False
    return (target.endswith(".py") and len(target) > 3) or _dotted(target)


def check_model_name(name: object) -> str:
    """``name`` if it is a built-in model (:data:`MODEL_NAMES`) or has the form of one's own model, else
    an InputError naming ``model``."""
    if isinstance(name, str) and (name in MODEL_NAMES or is_model_spec(name)):
        return name
    raise must("model", f"be one of {', '.join(MODEL_NAMES)}, or {MODEL_SPEC_FORMS}", name)


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """Everything that defines a reference run: the one configuration of a run, its data included.

    Parameters
    ----------
    algorithm : ``"astraea"`` or ``"fedavg"``, an algorithm of the cost model
        (``costmodel.model.protocols.ALGORITHMS``), each with its registered protocol
        (:mod:`reference_impl.protocols`).
    dataset : ``"digits"`` (scikit-learn's real handwritten digits), ``"emnist-shape"`` (generated
        1x28x28, 47 classes) or ``"cinic-shape"`` (generated 3x32x32, 10 classes).
    samples : samples to generate for the shape-only datasets (ignored for ``digits``).
    model : a built-in model: ``"tpds"`` (the TPDS EMNIST CNN), ``"keras-cifar"``, or a width family
        (:data:`WIDTH_MODELS`: ``"scaled"``, the TPDS layout, and ``"mlp"``, ``"resnet"``, ``"mobilenet"``,
        ``"vit"``, :mod:`reference_impl.models.families`); or a model of one's own, ``PATH.py:FUNCTION``
        or ``package.module:FUNCTION`` (:mod:`reference_impl.models.loading`: a callable returning an
        ``nn.Module``, given the dataset's sample shape and classes). Its form is checked here
        (torch-free); whether it loads and runs, by :func:`reference_impl.models.loading.check_model`.
    model_width : width multiplier of a width family (1.0 for the other models).
    clients, clients_per_round : N and c.
    gamma : mediator size (clients per mediator), Astraea only.
    local_epochs, mediator_epochs : E and E_m.
    batch_size : B.
    rounds : R synchronization rounds.
    learning_rate : Adam's learning rate (the papers use 1e-3).
    mu : the proximal coefficient of a protocol with a proximal term (FedProx: ``mu/2*||w - w_t||^2``
        in every local step), > 0 there; 0 for the others (the protocol checks it).
    plan, tau_d, alpha : augmentation plan: TPDS z-score with threshold ``tau_d`` (``tpds``, the
        minority target of the papers' text; ``tpds-printed``, the target as printed, which gives the
        papers' data growth), ICCD with exponent ``alpha``, or none.
    global_imbalance, imbalance_ratio : class-frequency shape (``none``, ``long-tail``,
        ``half-normal``) and the ratio of the rarest to the largest class.
    local_imbalance : how each client's labels are drawn (:func:`reference_impl.data.partition.partition`):
        ``"classes"`` (``classes_per_client`` label-sorted shards each, the FedAvg literature's
        pathological non-IID split), ``"dirichlet"`` (proportions ~ Dirichlet(``dirichlet_alpha`` *
        K * global frequencies); :data:`PAPERS_DIRICHLET_ALPHA` gives the TPDS paper's client KL) or
        ``"none"`` (IID).
    classes_per_client : shards (dominant classes) per client, for ``"classes"``.
    dirichlet_alpha : concentration for ``"dirichlet"``, > 0 (smaller: fewer classes per client).
    size_skew : ``0`` for equal client sizes, otherwise the sigma of a lognormal size spread.
    seed : one seed for data, model initialisation, client selection and training.
    threads : torch intra-op threads (1 = one device is one core).
    timer : ``"thread"`` (each event's duration is the thread's CPU time, robust to other processes
        on a shared machine) or ``"wall"`` (``time.perf_counter``).
    evaluate : test accuracy after every round (recorded as ``evaluation``, outside the overhead).

    The data functions (:mod:`reference_impl.data.federated`) take this configuration as it is; the
    rules that need the dataset (``classes_per_client`` at most its classes, ``samples >= clients``
    for a generated one) are checked there, in one place (``check_data``).
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
    mu: float = 0.0
    plan: str = "tpds"
    tau_d: float = 3.0
    alpha: float = 0.5
    global_imbalance: str = "long-tail"
    imbalance_ratio: float = 0.1
    local_imbalance: str = "classes"
    classes_per_client: int = 2
    dirichlet_alpha: float = PAPERS_DIRICHLET_ALPHA
    size_skew: float = 0.0
    seed: int = 0
    threads: int = 1
    timer: str = "thread"
    evaluate: bool = True

    def __post_init__(self) -> None:
        for name, options in (("algorithm", ALGORITHMS), ("dataset", DATASET_NAMES),
                              ("plan", AUGMENTATION_PLANS), ("timer", TIMERS),
                              ("local_imbalance", LOCAL_IMBALANCES)):
            if getattr(self, name) not in options:
                raise must(name, f"be one of {', '.join(options)}", getattr(self, name))
        check_model_name(self.model)
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen: coerce once)
        for name in ("clients", "clients_per_round", "gamma", "local_epochs", "mediator_epochs", "batch_size",
                     "rounds", "samples", "classes_per_client", "threads"):
            set_(name, check_int(name, getattr(self, name), minimum=1))
        set_("seed", check_int("seed", self.seed, minimum=0))
        if self.clients_per_round > self.clients:
            raise InputError(f"'clients_per_round' must be <= 'clients' ({self.clients}) (got {self.clients_per_round}).")
        set_("learning_rate", check_number("learning_rate", self.learning_rate, exclusive_minimum=0))
        set_("model_width", check_number("model_width", self.model_width, exclusive_minimum=0))
        if self.model not in WIDTH_MODELS and self.model_width != 1.0:
            raise must("model_width", f"be 1.0 for the fixed model {self.model!r} (the width families are "
                                      f"{', '.join(WIDTH_MODELS)})", self.model_width)
        set_("tau_d", check_number("tau_d", self.tau_d, exclusive_minimum=0))
        set_("alpha", check_number("alpha", self.alpha, minimum=0, maximum=1))
        set_("imbalance_ratio", check_number("imbalance_ratio", self.imbalance_ratio, exclusive_minimum=0, maximum=1))
        set_("dirichlet_alpha", check_number("dirichlet_alpha", self.dirichlet_alpha, exclusive_minimum=0))
        set_("mu", check_number("mu", self.mu, minimum=0, maximum=1e6))
        set_("size_skew", check_number("size_skew", self.size_skew, minimum=0))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
