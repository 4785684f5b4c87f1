"""Models: the papers' CNNs, five architecture families, any PyTorch model of one's own, and what each
computes.

Modules, one job each:

:mod:`~reference_impl.models.builtin`
    The papers' models (the TPDS EMNIST CNN, the Keras cifar10_cnn) and the width-scaled TPDS layout.
:mod:`~reference_impl.models.families`
    Four more families at a width multiplier: dense-only, residual with BatchNorm, depthwise-separable,
    a small vision transformer.
:mod:`~reference_impl.models.loading`
    Models by name (:data:`MODELS`, :func:`build_model`), a model of one's own from ``PATH.py:FUNCTION``
    or ``package.module:FUNCTION``, and :func:`check_model`, which turns a bad one into one line.
:mod:`~reference_impl.models.counting`
    FLOPs by operator class as executed (training and forward), parameters, convolution inputs.
:mod:`~reference_impl.models.features`
    :func:`model_features`: every architecture input of the cost model for a model and sample shape.
"""

from reference_impl.models.builtin import keras_cifar10_cnn, scaled_cnn, tpds_emnist_cnn
from reference_impl.models.counting import (
    FLOP_CLASSES,
    architecture_key,
    conv_input_values_per_sample,
    count_parameters,
    flopcounter_train_flops_per_sample,
    forward_flops_per_sample,
    train_flops_per_sample,
)
from reference_impl.models.features import FEATURE_INPUTS, ModelFeatures, model_features
from reference_impl.models.loading import MODELS, build_model, check_model, load_callable

__all__ = [
    "FEATURE_INPUTS",
    "FLOP_CLASSES",
    "MODELS",
    "ModelFeatures",
    "architecture_key",
    "build_model",
    "check_model",
    "conv_input_values_per_sample",
    "count_parameters",
    "flopcounter_train_flops_per_sample",
    "forward_flops_per_sample",
    "keras_cifar10_cnn",
    "load_callable",
    "model_features",
    "scaled_cnn",
    "tpds_emnist_cnn",
    "train_flops_per_sample",
]
