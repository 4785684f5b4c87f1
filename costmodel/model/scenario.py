"""One point of the what-if input space: :class:`Scenario`, and the papers' two setups.

Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) is priced for the inputs of
:data:`costmodel.model.quantities.INPUTS`; a :class:`Scenario` holds one value of each, validated on
construction with the project's one-line :class:`~costmodel.errors.InputError` wording. Its
defaults, and :meth:`Scenario.emnist`, are the TPDS imbalanced-EMNIST setup; :meth:`Scenario.cinic10`
is the CINIC-10 one. Where the figures of the presets come from is said in
:mod:`costmodel.model.quantities`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from costmodel.errors import InputError, must
from costmodel.model.label_mix import CINIC10_HISTOGRAM, EMNIST_HISTOGRAM
from costmodel.model.quantities import (
    CINIC10_AUTOGRAD_NODES,
    CINIC10_CONV_CALLS,
    CINIC10_CONV_INPUT_VALUES,
    CINIC10_CONV_PADDING_FLOPS,
    CINIC10_ELEMENTWISE_VALUES,
    CINIC10_PARAMS,
    CINIC10_TRAIN_FLOPS,
    EMNIST_AUTOGRAD_NODES,
    EMNIST_CONV_CALLS,
    EMNIST_CONV_INPUT_VALUES,
    EMNIST_CONV_PADDING_FLOPS,
    EMNIST_ELEMENTWISE_VALUES,
    EMNIST_PARAMS,
    EMNIST_TRAIN_FLOPS,
    INPUTS,
    check_input_value,
)

__all__ = ["Scenario", "check_cross_rules", "default_classes_per_client"]


def _check_names(changes: Mapping[str, Any]) -> None:
    unknown = sorted(set(changes) - set(INPUTS))
    if unknown:
        raise InputError(f"'{unknown[0]}' is not an input of the cost model (inputs: {', '.join(INPUTS)}).")


def _default(name: str) -> Any:
    return field(default=INPUTS[name].default)


def default_classes_per_client(classes: Any, held: Any = None) -> Any:
    """``K_c`` when none is given: ``held`` (a preset's; by default the EMNIST preset's 38.06 classes
    held), at most ``classes`` (scalars or arrays)."""
    return np.minimum(float(INPUTS["classes_per_client"].default) if held is None else held, classes)


def check_cross_rules(values: Mapping[str, Any]) -> None:
    """Raise the first broken rule between inputs, for scalars or equal-length columns of scenarios:
    ``clients_per_round <= clients_total``, ``sample_channels`` divides ``sample_values``,
    ``classes_per_client <= classes`` and, without an augmentation plan (``plans_augmentation = 0``),
    no augmented or removed samples. The error names the first scenario that breaks a rule."""
    def first(broken: Any, *columns: str) -> tuple[Any, ...] | None:
        broken = np.asarray(broken)
        if not broken.any():
            return None
        index = np.unravel_index(int(np.flatnonzero(broken)[0]), broken.shape) if broken.ndim else ()
        found = (np.broadcast_to(np.asarray(values[c]), broken.shape)[index].item() for c in columns)
        return tuple(int(x) if float(x).is_integer() else x for x in found)

    v = {name: np.asarray(values[name]) for name in values}
    found = first(v["clients_per_round"] > v["clients_total"], "clients_per_round", "clients_total")
    if found:
        raise must("clients_per_round", f"be <= clients_total ({found[1]})", found[0])
    found = first(np.mod(v["sample_values"], v["sample_channels"]) != 0, "sample_channels", "sample_values")
    if found:
        raise must("sample_channels", f"divide sample_values ({found[1]})", found[0])
    found = first(v["classes_per_client"] > v["classes"], "classes_per_client", "classes")
    if found:
        raise must("classes_per_client", f"be <= classes ({found[1]})", found[0])
    for name in ("augmented_fraction", "augmented_fraction_sd", "removed_fraction"):
        found = first((v["plans_augmentation"] == 0) & (v[name] != 0), name)
        if found:
            raise must(name, "be 0 when plans_augmentation is 0 (the plan 'none')", found[0])


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """One point of the what-if input space; defaults are the TPDS EMNIST setup.

    Every field is an input of :data:`INPUTS` (see there for units and meaning). Construction
    validates each value and the cross-field rules of :func:`check_cross_rules`; a bandwidth may be
    ``math.inf`` (an in-process transfer). ``classes_per_client`` left out is the preset's (EMNIST's
    38.06) capped at ``classes`` (:func:`default_classes_per_client`): a user who changes only the
    classes asks for clients that hold at most all of them.

    Examples
    --------
    >>> Scenario.emnist(mediator_epochs=2).mediator_epochs
    2
    >>> Scenario(clients_per_round=0)
    Traceback (most recent call last):
    ...
    costmodel.errors.InputError: 'clients_per_round' must be >= 1 (got 0).
    """

    clients_total: int = _default("clients_total")
    clients_per_round: int = _default("clients_per_round")
    classes: int = _default("classes")
    samples_per_client: float = _default("samples_per_client")
    samples_per_client_sd: float = _default("samples_per_client_sd")
    local_epochs: int = _default("local_epochs")
    mediator_epochs: int = _default("mediator_epochs")
    mediator_size: int = _default("mediator_size")
    batch_size: int = _default("batch_size")
    rounds: int = _default("rounds")
    params: int = _default("params")
    bytes_per_param: float = _default("bytes_per_param")
    message_header_bytes: float = _default("message_header_bytes")
    train_flops_per_sample: float = _default("train_flops_per_sample")
    conv_input_values: int = _default("conv_input_values")
    sample_values: int = _default("sample_values")
    sample_channels: int = _default("sample_channels")
    classes_per_client: float | None = None   # None: default_classes_per_client(classes)
    plans_augmentation: int = _default("plans_augmentation")
    elementwise_values: int = _default("elementwise_values")
    autograd_nodes: int = _default("autograd_nodes")
    conv_calls: int = _default("conv_calls")
    conv_padding_flops: float = _default("conv_padding_flops")
    augmented_fraction: float = _default("augmented_fraction")
    augmented_fraction_sd: float = _default("augmented_fraction_sd")
    client_load_spread: float = _default("client_load_spread")
    mediator_load_spread: float = _default("mediator_load_spread")
    removed_fraction: float = _default("removed_fraction")
    uplink_bits_per_s: float = _default("uplink_bits_per_s")
    downlink_bits_per_s: float = _default("downlink_bits_per_s")
    server_bits_per_s: float = _default("server_bits_per_s")

    def __post_init__(self) -> None:
        if self.classes_per_client is None:
            object.__setattr__(self, "classes_per_client",
                               float(default_classes_per_client(check_input_value("classes", self.classes))))
        for name in INPUTS:
            object.__setattr__(self, name, check_input_value(name, getattr(self, name)))
        check_cross_rules(self.as_dict())

    @classmethod
    def emnist(cls, **changes: Any) -> Scenario:
        """The TPDS imbalanced-EMNIST setup (47 classes, 500 clients, c = 50, gamma = 10, B = 10,
        E = 1, E_m = 1, the 68,873-parameter CNN, 1x28x28 samples); the augmentation volume, its
        spread and the classes per client derived from :data:`~costmodel.model.label_mix.EMNIST_HISTOGRAM`
        (the printed TPDS plan adds the reported 81.8%)."""
        _check_names(changes)
        base = dict(clients_total=500, clients_per_round=50, classes=47, samples_per_client=112_800 / 500,
                    mediator_size=10, batch_size=10, local_epochs=1, mediator_epochs=1, params=EMNIST_PARAMS,
                    train_flops_per_sample=float(EMNIST_TRAIN_FLOPS), conv_input_values=EMNIST_CONV_INPUT_VALUES,
                    sample_values=784, elementwise_values=EMNIST_ELEMENTWISE_VALUES,
                    autograd_nodes=EMNIST_AUTOGRAD_NODES, conv_calls=EMNIST_CONV_CALLS,
                    conv_padding_flops=float(EMNIST_CONV_PADDING_FLOPS),
                    **EMNIST_HISTOGRAM.preset_inputs())
        return cls(**{**base, **changes})

    @classmethod
    def cinic10(cls, **changes: Any) -> Scenario:
        """The TPDS imbalanced-CINIC-10 setup (10 classes, 100 clients, c = 20, gamma = 4, B = 50,
        the Keras CIFAR-10 CNN of 1,250,858 parameters, 3x32x32 samples); the augmentation inputs from
        :data:`~costmodel.model.label_mix.CINIC10_HISTOGRAM` (the printed plan adds the reported 103.8%)."""
        _check_names(changes)
        base = dict(clients_total=100, clients_per_round=20, classes=10, samples_per_client=90_000 / 100,
                    mediator_size=4, batch_size=50, local_epochs=1, mediator_epochs=1, params=CINIC10_PARAMS,
                    train_flops_per_sample=float(CINIC10_TRAIN_FLOPS), conv_input_values=CINIC10_CONV_INPUT_VALUES,
                    sample_values=3072, sample_channels=3, elementwise_values=CINIC10_ELEMENTWISE_VALUES,
                    autograd_nodes=CINIC10_AUTOGRAD_NODES, conv_calls=CINIC10_CONV_CALLS,
                    conv_padding_flops=float(CINIC10_CONV_PADDING_FLOPS),
                    **CINIC10_HISTOGRAM.preset_inputs())
        return cls(**{**base, **changes})

    def replace(self, **changes: Any) -> Scenario:
        """A copy with some inputs changed (validated again)."""
        _check_names(changes)
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, float | int]:
        """The inputs as a plain ``{name: value}`` dict, in :data:`INPUTS` order."""
        return {name: getattr(self, name) for name in INPUTS}
