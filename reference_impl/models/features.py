"""The architecture features of any model: what one visit's compute time depends on.

:func:`model_features` measures, for a model and a sample shape, every architecture input of the cost
model's compute statement, and returns them as :class:`ModelFeatures`:

===========================  =====  ===================================================================
feature                      input  how it is counted
===========================  =====  ===================================================================
``params``                   P      scalar parameters
``train_flops_per_sample``   F      training FLOPs per sample: forward + backward as executed, one
                                    multiply-add = 2 FLOPs (:mod:`reference_impl.models.counting`:
                                    attention counted, grouped convolutions not over-counted), by
                                    operator class in ``train_flops_by_class``
``conv_input_values``        V_c    values entering the convolutions per sample (``C_in*H_in*W_in``)
``elementwise_values``       V_e    values written per sample by the element-wise operations of a
                                    training pass: output elements of every ATen call that is neither
                                    a view, a convolution, a matrix product, attention nor a
                                    normalization (activations, their gradients, additions, pooling,
                                    dropout, the loss, bias-gradient sums), the per-sample part
``autograd_nodes``           N      nodes of one step's autograd graph: backward functions plus one
                                    AccumulateGrad per parameter tensor (the backward engine's and the
                                    optimizer's per-tensor work)
``conv_calls``               C_k    convolution calls per optimizer step (forward and backward) with a
                                    spatial kernel (larger than 1x1) or groups > 1
``conv_padding_flops``       F_pad  training FLOPs per sample the convolutions would add with their
                                    channel counts rounded up to whole blocks of 16 (oneDNN's layout:
                                    :data:`~reference_impl.models.counting.CHANNEL_BLOCK`)
===========================  =====  ===================================================================

How: the model is deep-copied, the global RNG forked and seeded, and one training pass (forward,
cross-entropy, backward; :func:`~reference_impl.models.counting.training_pass`) runs under an
:class:`~reference_impl.models.counting.OperatorTally` at two batch sizes ``b1 < b2``. A count ``c(b)``
splits into a per-step and a per-sample part, ``c(b) = c_step + b * c_sample``, with
``c_sample = (c(b2) - c(b1)) / (b2 - b1)``; FLOPs, F_pad and V_e are per-sample parts, N and C_k are taken at
``b1``. The caller's model, its parameters, gradients and mode, and the global RNG are untouched.

For the TPDS CNN on 1x28x28 with 47 classes: P 68,873, F 1,018,188, V_c 2,962, V_e 7,815, N 25, C_k 6,
F_pad 4,140,528 (tested; its 1, 12, 18 and 24 channels are blocks of 16, 16, 32 and 32).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import torch
from torch import nn

from costmodel.errors import check_int, must
from reference_impl.models.builtin import check_shape
from reference_impl.models.counting import (
    FLOP_CLASSES,
    OperatorTally,
    architecture_key,
    conv_input_values_per_sample,
    count_parameters,
    flopcounter_train_flops_per_sample,
    training_batch,
    training_pass,
)

__all__ = ["FEATURE_INPUTS", "ModelFeatures", "model_features"]

#: The cost model's architecture inputs that :meth:`ModelFeatures.model_inputs` gives, in order.
FEATURE_INPUTS: tuple[str, ...] = ("params", "train_flops_per_sample", "conv_input_values", "sample_values",
                                   "sample_channels", "classes", "elementwise_values", "autograd_nodes", "conv_calls",
                                   "conv_padding_flops")


@dataclass(frozen=True, kw_only=True)
class ModelFeatures:
    """The architecture features of one model on one sample shape (see the module docstring).

    Attributes
    ----------
    sample_shape : tuple of int
        The shape of one sample, (C, H, W).
    num_classes : int
        K, the classes the model's output scores.
    params : int
        P, scalar parameters.
    param_tensors : int
        Parameter tensors (Adam updates each one in its own calls).
    train_flops_per_sample : float
        F, training FLOPs per sample (forward + backward, one multiply-add = 2 FLOPs).
    train_flops_by_class : Mapping[str, float]
        F split by operator class (:data:`~reference_impl.models.counting.FLOP_CLASSES`); sums to F.
    flopcounter_train_flops_per_sample : float
        ``FlopCounterMode``'s count of the same pass, per sample (a cross-check: it counts CPU attention
        as 0 and grouped convolutions' weight gradients ``groups`` times).
    conv_input_values : int
        V_c, values entering the convolutions per sample.
    elementwise_values : int
        V_e, values written by element-wise operations per sample of a training pass.
    autograd_nodes : int
        N, autograd nodes per optimizer step.
    conv_calls : int
        C_k, spatial-kernel or grouped convolution calls (forward + backward) per optimizer step.
    conv_padding_flops : float
        F_pad, the convolutions' padding FLOPs per training sample (module docstring).
    """

    sample_shape: tuple[int, ...]
    num_classes: int
    params: int
    param_tensors: int
    train_flops_per_sample: float
    train_flops_by_class: Mapping[str, float]
    flopcounter_train_flops_per_sample: float
    conv_input_values: int
    elementwise_values: int
    autograd_nodes: int
    conv_calls: int
    conv_padding_flops: float

    @property
    def sample_values(self) -> int:
        """V, values per sample (``C*H*W``)."""
        return math.prod(self.sample_shape)

    def model_inputs(self) -> dict[str, float]:
        """The cost model's architecture inputs (:data:`FEATURE_INPUTS`) by name."""
        return {"params": self.params, "train_flops_per_sample": self.train_flops_per_sample,
                "conv_input_values": self.conv_input_values, "sample_values": self.sample_values,
                "sample_channels": self.sample_shape[0], "classes": self.num_classes, "elementwise_values": self.elementwise_values,
                "autograd_nodes": self.autograd_nodes, "conv_calls": self.conv_calls,
                "conv_padding_flops": self.conv_padding_flops}

    def as_dict(self) -> dict[str, Any]:
        """Every feature as plain JSON-ready values (the FLOP split as a dict)."""
        return {"sample_shape": list(self.sample_shape), "num_classes": self.num_classes, "params": self.params,
                "param_tensors": self.param_tensors, "train_flops_per_sample": self.train_flops_per_sample,
                "train_flops_by_class": dict(self.train_flops_by_class),
                "flopcounter_train_flops_per_sample": self.flopcounter_train_flops_per_sample,
                "conv_input_values": self.conv_input_values, "elementwise_values": self.elementwise_values,
                "autograd_nodes": self.autograd_nodes, "conv_calls": self.conv_calls,
                "conv_padding_flops": self.conv_padding_flops}


def _whole(value: float) -> int:
    """A per-sample count split from two batch sizes: whole for every operator that grows with the batch."""
    return int(round(value))


_CACHE: dict[tuple[str, tuple[int, ...], int, tuple[int, int]], ModelFeatures] = {}


def model_features(model: nn.Module, sample_shape: Sequence[int], num_classes: int, *,
                   batch_sizes: tuple[int, int] = (4, 8), cache: bool = True) -> ModelFeatures:
    """The :class:`ModelFeatures` of ``model`` on samples of ``sample_shape`` with ``num_classes`` classes.

    Parameters
    ----------
    model : torch.nn.Module
        Any model that maps a batch ``(B, *sample_shape)`` to logits ``(B, num_classes)``; not modified.
    sample_shape : sequence of int
        (C, H, W).
    num_classes : int
        K.
    batch_sizes : (int, int)
        The two batch sizes ``1 <= b1 < b2`` the per-sample parts are split from.
    cache : bool
        Reuse the features of an earlier call with the same architecture (its class and ``repr``),
        shape, classes and batch sizes. Pass False for a model whose computation depends on
        something its ``repr`` does not show.

    Raises
    ------
    InputError
        For a bad shape, class count or batch sizes. Errors of the model's own forward or backward
        pass propagate unchanged (:func:`reference_impl.models.loading.check_model` turns them into
        one line).
    """
    shape = check_shape(sample_shape)
    num_classes = check_int("num_classes", num_classes, minimum=1)
    try:
        b1, b2 = (int(b) for b in batch_sizes)
    except (TypeError, ValueError):
        raise must("batch_sizes", "be two increasing integers >= 1", batch_sizes) from None
    if not 1 <= b1 < b2:
        raise must("batch_sizes", "be two increasing integers >= 1", tuple(batch_sizes))
    key = (architecture_key(model), shape, num_classes, (b1, b2))
    if cache and key in _CACHE:
        return _CACHE[key]
    clone = copy.deepcopy(model)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        conv_values = conv_input_values_per_sample(clone, shape)
        tallies, nodes = [], 0
        for b in (b1, b2):
            inputs, target = training_batch(shape, num_classes, b)
            with OperatorTally() as tally:
                counted_nodes = training_pass(clone, inputs, target)
            tallies.append(tally)
            nodes = nodes or counted_nodes
        flopcounter = flopcounter_train_flops_per_sample(clone, shape, batch_size=b2)
    first, second = tallies

    def per_sample(counts1: Mapping[str, float], counts2: Mapping[str, float], kind: str) -> float:
        return (counts2.get(kind, 0.0) - counts1.get(kind, 0.0)) / (b2 - b1)

    flops = {kind: per_sample(first.flops, second.flops, kind) for kind in FLOP_CLASSES}
    features = ModelFeatures(
        sample_shape=shape, num_classes=num_classes,
        params=count_parameters(model), param_tensors=sum(1 for _ in model.parameters()),
        train_flops_per_sample=sum(flops.values()), train_flops_by_class=MappingProxyType(flops),
        flopcounter_train_flops_per_sample=flopcounter,
        conv_input_values=conv_values,
        elementwise_values=_whole(per_sample(first.values, second.values, "other")),
        autograd_nodes=nodes,
        conv_calls=first.calls.get("conv", 0) + first.calls.get("dwconv", 0),
        conv_padding_flops=float(_whole((second.padding_flops - first.padding_flops) / (b2 - b1))))
    if cache:
        _CACHE[key] = features
    return features
