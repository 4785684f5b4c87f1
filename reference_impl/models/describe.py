"""What ``astraea-cost describe-model`` prints and writes: a model's architecture inputs for the cost model.

:func:`describe_model` builds and checks a model (:func:`~reference_impl.models.loading.check_model`: a
bad one is one line naming ``model``), measures its :class:`~reference_impl.models.features.ModelFeatures`
and returns them with what the model-inputs file records about the model
(:mod:`costmodel.contracts.model_inputs`). :func:`model_inputs` is the service ``astraea-cost predict
--model`` calls (declared in :mod:`reference_impl.commands`), so the cost model reaches torch only then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from reference_impl.models.counting import FLOP_CLASSES
from reference_impl.models.features import ModelFeatures, model_features
from reference_impl.models.loading import check_model

__all__ = ["BUILD_SEED", "ModelDescription", "describe_model", "model_inputs"]

#: The torch seed a described model is built with (the features do not depend on the weights).
BUILD_SEED = 0

_ROWS: tuple[tuple[str, str, str], ...] = (
    ("params", "P", "parameters"),
    ("train_flops_per_sample", "F", "FLOP per sample: training, forward + backward, 1 multiply-add = 2 FLOPs"),
    ("conv_input_values", "V_c", "values per sample entering the convolutions"),
    ("elementwise_values", "V_e", "values per sample written by element-wise operations"),
    ("autograd_nodes", "N", "autograd nodes per optimizer step"),
    ("conv_calls", "C_k", "spatial-kernel or grouped convolution calls per optimizer step"),
    ("conv_padding_flops", "F_pad", "FLOP per sample the convolutions' channels rounded up to blocks of 16 add"),
    ("sample_values", "V", "values per sample"),
    ("sample_channels", "C_s", "channels per sample"),
    ("classes", "K", "classes"),
)


@dataclass(frozen=True, kw_only=True)
class ModelDescription:
    """A described model: its name as given, its width, and its features."""

    name: str
    width: float
    features: ModelFeatures

    def inputs(self) -> dict[str, float]:
        """The cost model's inputs (names of ``costmodel.model.quantities.INPUTS``)."""
        return self.features.model_inputs()

    def about(self) -> dict[str, Any]:
        """What the model-inputs file records about the model (its ``model`` object)."""
        return {"name": self.name, "width": self.width, "input_shape": list(self.features.sample_shape),
                "num_classes": self.features.num_classes, "param_tensors": self.features.param_tensors,
                "train_flops_by_class": dict(self.features.train_flops_by_class),
                "flopcounter_train_flops_per_sample": self.features.flopcounter_train_flops_per_sample}

    def lines(self) -> list[str]:
        """The table ``describe-model`` prints."""
        f = self.features
        shape = "x".join(str(s) for s in f.sample_shape)
        width = f", width {self.width:g}" if self.width != 1.0 else ""
        out = [f"{self.name}{width} on {shape} samples, {f.num_classes} classes", ""]
        values = self.inputs()
        name_width = max(len(name) for name, _, _ in _ROWS)
        for name, symbol, unit in _ROWS:
            out.append(f"{name:<{name_width}}  {symbol:<3}  {values[name]:>14,.0f}  {unit}")
            if name == "train_flops_per_sample":
                for kind in FLOP_CLASSES:
                    if f.train_flops_by_class[kind]:
                        share = f.train_flops_by_class[kind] / f.train_flops_per_sample
                        out.append(f"{'  ' + kind:<{name_width}}       {f.train_flops_by_class[kind]:>14,.0f}  "
                                   f"{share:.1%} of F")
        difference = f.flopcounter_train_flops_per_sample - f.train_flops_per_sample
        note = ("the same" if difference == 0 else
                f"{f.flopcounter_train_flops_per_sample:,.0f}: it counts CPU attention as 0 and grouped "
                f"convolutions' weight gradients once per group")
        out += ["", "F counts forward and backward as executed (the first layer computes no input gradient),",
                f"about 3x a forward count; torch's FlopCounterMode gives {note}."]
        return out


def describe_model(name: str, *, input_shape: Sequence[int], num_classes: int, width: float = 1.0) -> ModelDescription:
    """Build, check and measure model ``name`` (a built-in name or ``PATH.py:FUNCTION`` /
    ``package.module:FUNCTION``) on samples of ``input_shape`` with ``num_classes`` classes.

    The build uses the torch seed :data:`BUILD_SEED` inside a forked RNG: the caller's random state is
    untouched and the same model is measured every time.

    Raises
    ------
    InputError
        One line for a bad model, shape, class count or width.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(BUILD_SEED)
        model = check_model(name, sample_shape=input_shape, num_classes=num_classes, width=width)
    features = model_features(model, input_shape, num_classes, cache=False)
    return ModelDescription(name=name, width=float(width), features=features)


def model_inputs(name: str, *, input_shape: Sequence[int], num_classes: int, width: float = 1.0) -> dict[str, float]:
    """The cost model's architecture inputs of model ``name`` (:func:`describe_model`); the service of
    ``astraea-cost predict --model``."""
    return describe_model(name, input_shape=input_shape, num_classes=num_classes, width=width).inputs()
