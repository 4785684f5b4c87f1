"""The papers' models, a width-scalable family, and their training FLOPs.

Models of Astraea's evaluation (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021):

``tpds`` (:func:`tpds_emnist_cnn`)
    The TPDS EMNIST CNN: conv 12 ch 5x5 stride 2, ReLU; conv 18 ch 3x3 stride 2, ReLU; dropout 0.5;
    conv 24 ch 2x2 stride 1, ReLU; flatten; dense 150, ReLU; dense K. No padding. On 1x28x28 with
    47 classes it has exactly 68,873 parameters, as the paper states. The papers' softmax is folded
    into the cross-entropy loss, so the model returns logits. The papers place no activation after
    the convolutions explicitly; ReLU everywhere is our reading.
``keras-cifar`` (:func:`keras_cifar10_cnn`)
    The classic Keras ``cifar10_cnn`` example the papers use for CINIC-10: conv32 3x3 same, ReLU;
    conv32 3x3 valid, ReLU; maxpool 2; dropout 0.25; conv64 3x3 same, ReLU; conv64 3x3 valid, ReLU;
    maxpool 2; dropout 0.25; flatten; dense 512, ReLU; dropout 0.5; dense K: 1,250,858 parameters
    on 3x32x32 with 10 classes.
``scaled`` (:func:`scaled_cnn`)
    The TPDS layout with every channel count and the hidden dense width multiplied by ``width``
    (rounded half up, at least 1), so the model size can be swept: on 1x28x28 with 47 classes,
    width 0.25 has 5,863 parameters, width 1 is the TPDS model (68,873), width 4 has 1,010,615 (172x
    the smallest, and still no dearer to train on a CPU than the Keras model).

FLOPs
    :func:`train_flops_per_sample` and :func:`forward_flops_per_sample` count with PyTorch's
    ``FlopCounterMode`` over one batch *as executed* (training: forward, cross-entropy loss, backward
    in train mode; evaluation: forward in eval mode without autograd), divided by the batch size.
    ``FlopCounterMode`` counts matrix products and convolutions (2 FLOPs per multiply-add) and
    nothing element-wise: ReLU, dropout, pooling, the loss and the optimizer update are left to the
    calibration's per-step coefficient. As executed means the first layer computes no input
    gradient (the data needs none), so a layer costs 3x its forward FLOPs in training except the
    first, which costs 2x. Results are cached per (architecture, sample shape, batch size), the
    architecture being the model's class and ``repr`` (which lists every layer's hyper-parameters).

Models are built with PyTorch's default initialisation, so ``torch.manual_seed(s)`` before
:func:`build_model` gives identical weights.
"""

from __future__ import annotations

import copy
import math
from collections import OrderedDict
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from costmodel.errors import InputError, check_int, check_number, must

__all__ = [
    "MODELS",
    "architecture_key",
    "build_model",
    "conv_input_values_per_sample",
    "count_parameters",
    "forward_flops_per_sample",
    "keras_cifar10_cnn",
    "scaled_cnn",
    "tpds_emnist_cnn",
    "train_flops_per_sample",
]


def _check_shape(sample_shape: Sequence[int]) -> tuple[int, int, int]:
    try:
        shape = tuple(int(s) for s in sample_shape)
    except (TypeError, ValueError):
        raise must("sample_shape", "be three positive integers (C, H, W)", sample_shape) from None
    if len(shape) != 3 or min(shape) < 1:
        raise must("sample_shape", "be three positive integers (C, H, W)", tuple(sample_shape))
    return shape  # type: ignore[return-value]


def _conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def _spatial_after(shape: tuple[int, int, int], stages: Sequence[tuple[int, int, int]],
                   model: str) -> tuple[int, int]:
    """(H, W) after (kernel, stride, padding) stages, or an InputError if the input is too small."""
    height, width = shape[1], shape[2]
    for kernel, stride, padding in stages:
        if height + 2 * padding < kernel or width + 2 * padding < kernel:
            raise must("sample_shape", f"be large enough for the {model} layers", shape)
        height = _conv_out(height, kernel, stride, padding)
        width = _conv_out(width, kernel, stride, padding)
    return height, width


def _scaled(base: int, width: float) -> int:
    return max(1, math.floor(base * width + 0.5))


def scaled_cnn(width: float, sample_shape: Sequence[int], num_classes: int) -> nn.Sequential:
    """The TPDS EMNIST CNN with channels and hidden units multiplied by ``width``.

    Layers: conv ``round(12 w)`` 5x5/2, ReLU, conv ``round(18 w)`` 3x3/2, ReLU, dropout 0.5,
    conv ``round(24 w)`` 2x2/1, ReLU, flatten, dense ``round(150 w)``, ReLU, dense ``num_classes``;
    no padding; ``round`` is half-up and at least 1. Width 1 on 1x28x28 is :func:`tpds_emnist_cnn`.
    """
    width = check_number("width", width, exclusive_minimum=0.0)
    shape = _check_shape(sample_shape)
    num_classes = check_int("num_classes", num_classes, minimum=1)
    c1, c2, c3, hidden = (_scaled(b, width) for b in (12, 18, 24, 150))
    height, wide = _spatial_after(shape, [(5, 2, 0), (3, 2, 0), (2, 1, 0)], "TPDS")
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(shape[0], c1, kernel_size=5, stride=2)),
        ("relu1", nn.ReLU()),
        ("conv2", nn.Conv2d(c1, c2, kernel_size=3, stride=2)),
        ("relu2", nn.ReLU()),
        ("dropout", nn.Dropout(0.5)),
        ("conv3", nn.Conv2d(c2, c3, kernel_size=2, stride=1)),
        ("relu3", nn.ReLU()),
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(c3 * height * wide, hidden)),
        ("relu4", nn.ReLU()),
        ("fc2", nn.Linear(hidden, num_classes)),
    ]))


def tpds_emnist_cnn(num_classes: int = 47, in_channels: int = 1, *,
                    image_size: tuple[int, int] = (28, 28)) -> nn.Sequential:
    """The TPDS EMNIST CNN (68,873 parameters on 1x28x28, 47 classes); see the module docstring."""
    in_channels = check_int("in_channels", in_channels, minimum=1)
    return scaled_cnn(1.0, (in_channels, *image_size), num_classes)


def keras_cifar10_cnn(num_classes: int = 10, *,
                      sample_shape: Sequence[int] = (3, 32, 32)) -> nn.Sequential:
    """Keras' ``cifar10_cnn`` example (1,250,858 parameters on 3x32x32, 10 classes)."""
    shape = _check_shape(sample_shape)
    num_classes = check_int("num_classes", num_classes, minimum=1)
    height, wide = _spatial_after(
        shape, [(3, 1, 1), (3, 1, 0), (2, 2, 0), (3, 1, 1), (3, 1, 0), (2, 2, 0)], "Keras cifar10_cnn")
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(shape[0], 32, kernel_size=3, padding=1)),
        ("relu1", nn.ReLU()),
        ("conv2", nn.Conv2d(32, 32, kernel_size=3)),
        ("relu2", nn.ReLU()),
        ("pool1", nn.MaxPool2d(2)),
        ("dropout1", nn.Dropout(0.25)),
        ("conv3", nn.Conv2d(32, 64, kernel_size=3, padding=1)),
        ("relu3", nn.ReLU()),
        ("conv4", nn.Conv2d(64, 64, kernel_size=3)),
        ("relu4", nn.ReLU()),
        ("pool2", nn.MaxPool2d(2)),
        ("dropout2", nn.Dropout(0.25)),
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(64 * height * wide, 512)),
        ("relu5", nn.ReLU()),
        ("dropout3", nn.Dropout(0.5)),
        ("fc2", nn.Linear(512, num_classes)),
    ]))


def _build_tpds(sample_shape: tuple[int, int, int], num_classes: int, width: float) -> nn.Module:
    return tpds_emnist_cnn(num_classes, sample_shape[0], image_size=sample_shape[1:])


def _build_keras(sample_shape: tuple[int, int, int], num_classes: int, width: float) -> nn.Module:
    return keras_cifar10_cnn(num_classes, sample_shape=sample_shape)


def _build_scaled(sample_shape: tuple[int, int, int], num_classes: int, width: float) -> nn.Module:
    return scaled_cnn(width, sample_shape, num_classes)


#: Model builders by name: ``(sample_shape, num_classes, width) -> nn.Module``.
MODELS: dict[str, Callable[[tuple[int, int, int], int, float], nn.Module]] = {
    "keras-cifar": _build_keras,
    "scaled": _build_scaled,
    "tpds": _build_tpds,
}


def build_model(name: str, *, sample_shape: Sequence[int], num_classes: int, width: float = 1.0) -> nn.Module:
    """Build a model by registry name (:data:`MODELS`); ``width`` applies to ``"scaled"`` only."""
    if not isinstance(name, str) or name not in MODELS:
        listed = ", ".join(repr(n) for n in sorted(MODELS))
        raise InputError(f"'model' must be one of {listed} (got {name!r}).")
    shape = _check_shape(sample_shape)
    width = check_number("width", width, exclusive_minimum=0.0)
    if name != "scaled" and width != 1.0:
        raise must("width", f"be 1.0 for the fixed model {name!r} (use 'scaled' to vary it)", width)
    return MODELS[name](shape, num_classes, width)


def count_parameters(model: nn.Module) -> int:
    """Number of scalar parameters (every ``nn.Parameter``; buffers are not parameters)."""
    return sum(p.numel() for p in model.parameters())


def architecture_key(model: nn.Module) -> str:
    """What identifies a model's computation: its class and its ``repr`` (all layer hyper-parameters)."""
    return f"{type(model).__module__}.{type(model).__qualname__}\n{model!r}"


_FLOP_CACHE: dict[tuple[str, str, tuple[int, ...], int], float] = {}


def _count(kind: str, model: nn.Module, sample_shape: Sequence[int], batch_size: int) -> float:
    try:
        shape = tuple(int(s) for s in sample_shape)
    except (TypeError, ValueError):
        raise must("sample_shape", "be a sequence of positive integers", sample_shape) from None
    if not shape or min(shape) < 1:
        raise must("sample_shape", "be a sequence of positive integers", tuple(sample_shape))
    batch_size = check_int("batch_size", batch_size, minimum=1)
    key = (kind, architecture_key(model), shape, batch_size)
    if key in _FLOP_CACHE:
        return _FLOP_CACHE[key]
    # A copy, so the caller's parameters, gradients and mode are untouched; a forked RNG, so
    # dropout here consumes none of the caller's random numbers.
    clone = copy.deepcopy(model)
    with torch.random.fork_rng(devices=[]):
        inputs = torch.zeros((batch_size, *shape))
        if kind == "train":
            clone.train()
            with FlopCounterMode(display=False) as counter:
                logits = clone(inputs)
                target = torch.zeros(batch_size, dtype=torch.long)
                torch.nn.functional.cross_entropy(logits, target).backward()
        else:
            clone.eval()
            with torch.no_grad(), FlopCounterMode(display=False) as counter:
                clone(inputs)
    flops = counter.get_total_flops() / batch_size
    _FLOP_CACHE[key] = flops
    return flops


def train_flops_per_sample(model: nn.Module, sample_shape: Sequence[int], *, batch_size: int) -> float:
    """Training FLOPs per sample: forward + loss + backward of one batch, as executed, / batch size.

    For a stack of layers with forward FLOPs ``f_1 .. f_L`` per sample (``2 * in * out`` for a dense
    layer, ``2 * H_out * W_out * C_out * C_in * k_h * k_w`` for a convolution):
    ``2 f_1 + 3 (f_2 + ... + f_L)``. Cached per (architecture, shape, batch size).
    """
    return _count("train", model, sample_shape, batch_size)


def forward_flops_per_sample(model: nn.Module, sample_shape: Sequence[int], *, batch_size: int) -> float:
    """Evaluation FLOPs per sample: one forward pass in eval mode, ``f_1 + ... + f_L``. Cached."""
    return _count("forward", model, sample_shape, batch_size)


def conv_input_values_per_sample(model: nn.Module, sample_shape: Sequence[int]) -> int:
    """Values entering the model's convolutions per sample: the sum over its ``Conv2d`` layers of
    ``C_in * H_in * W_in`` (padding not counted).

    A CPU convolution reads (and in training, writes the gradient of) its whole input, much of it
    through an unfolded copy, whatever its FLOPs: memory traffic a FLOP count does not see. The
    cost model prices it per value (``train_s_per_conv_value``). 2,962 for the TPDS CNN on 1x28x28
    (784 + 12*12*12 + 18*5*5), 57,440 for the Keras cifar10_cnn on 3x32x32
    (3,072 + 32*32*32 + 32*15*15 + 64*15*15).
    """
    shape = _check_shape(sample_shape)
    total = 0

    def add(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        total += int(inputs[0][0].numel())

    handles = [m.register_forward_hook(add) for m in model.modules() if isinstance(m, nn.Conv2d)]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros((1, *shape)))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return total
