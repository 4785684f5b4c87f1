"""The papers' models and the width-scalable TPDS family (the project's CNN family).

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

Models are built with PyTorch's default initialisation, so ``torch.manual_seed(s)`` before a build
gives identical weights.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence

from torch import nn

from costmodel.errors import check_int, check_number, must

__all__ = ["check_shape", "keras_cifar10_cnn", "scaled", "scaled_cnn", "spatial_after", "tpds_emnist_cnn"]


def check_shape(sample_shape: Sequence[int]) -> tuple[int, int, int]:
    """``sample_shape`` as three positive integers (C, H, W), or an InputError naming ``sample_shape``."""
    try:
        shape = tuple(int(s) for s in sample_shape)
    except (TypeError, ValueError):
        raise must("sample_shape", "be three positive integers (C, H, W)", sample_shape) from None
    if len(shape) != 3 or min(shape) < 1:
        raise must("sample_shape", "be three positive integers (C, H, W)", tuple(sample_shape))
    return shape  # type: ignore[return-value]


def _conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def spatial_after(shape: tuple[int, int, int], stages: Sequence[tuple[int, int, int]],
                  model: str) -> tuple[int, int]:
    """(H, W) after (kernel, stride, padding) stages, or an InputError if the input is too small."""
    height, width = shape[1], shape[2]
    for kernel, stride, padding in stages:
        if height + 2 * padding < kernel or width + 2 * padding < kernel:
            raise must("sample_shape", f"be large enough for the {model} layers", shape)
        height = _conv_out(height, kernel, stride, padding)
        width = _conv_out(width, kernel, stride, padding)
    return height, width


def scaled(base: int, width: float, multiple: int = 1) -> int:
    """``base * width`` rounded half up to a multiple of ``multiple`` (at least ``multiple``)."""
    return multiple * max(1, math.floor(base * width / multiple + 0.5))


def scaled_cnn(width: float, sample_shape: Sequence[int], num_classes: int) -> nn.Sequential:
    """The TPDS EMNIST CNN with channels and hidden units multiplied by ``width``.

    Layers: conv ``round(12 w)`` 5x5/2, ReLU, conv ``round(18 w)`` 3x3/2, ReLU, dropout 0.5,
    conv ``round(24 w)`` 2x2/1, ReLU, flatten, dense ``round(150 w)``, ReLU, dense ``num_classes``;
    no padding; ``round`` is half-up and at least 1. Width 1 on 1x28x28 is :func:`tpds_emnist_cnn`.
    """
    width = check_number("width", width, exclusive_minimum=0.0)
    shape = check_shape(sample_shape)
    num_classes = check_int("num_classes", num_classes, minimum=1)
    c1, c2, c3, hidden = (scaled(b, width) for b in (12, 18, 24, 150))
    height, wide = spatial_after(shape, [(5, 2, 0), (3, 2, 0), (2, 1, 0)], "TPDS")
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
    shape = check_shape(sample_shape)
    num_classes = check_int("num_classes", num_classes, minimum=1)
    height, wide = spatial_after(
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
