"""The grids of the architecture-family study: which models, shapes, batch sizes and sample counts.

Does the local-training statement of the Astraea cost model (Duan et al., ICCD 2019; IEEE TPDS
32(1), 2021) price a visit of a model of a kind it was not fitted on? The family study
(:mod:`calibration.family_study`) answers it on five architecture families
(:mod:`reference_impl.models.families`, :func:`reference_impl.models.builtin.scaled_cnn`):
``mlp`` (dense layers only), ``scaled`` (the TPDS CNN layout), ``resnet`` (BatchNorm and skip
connections), ``mobilenet`` (depthwise-separable convolutions) and ``vit`` (patch embedding and
attention), each at a width multiplier, on the two image shapes of the papers' setups (1x28x28 with
47 classes, EMNIST's; 3x32x32 with 10, CINIC-10's).

Two grids, both fixed here before any of their visits was measured:

* the **development** grid (:data:`DEV_WIDTHS` x :data:`SHAPES` x :data:`DEV_SETTINGS`): four
  widths per family, batch sizes 8, 16 and 32, 64 and 256 samples per visit. Modelling decisions
  (which terms the statement has) may look at it;
* the **test** grid (:data:`TEST_WIDTHS` x :data:`SHAPES` x :data:`TEST_SETTINGS`, and the Keras
  cifar10_cnn, a CNN of another layout, at :data:`KERAS_SETTINGS`): two or three other widths per
  family, at the development grid's extreme batch settings and at batch sizes (12, 20) and sample
  counts (100, 200, with a partial last batch at batch 12) the development grid does not have. It
  is frozen: it is measured and reported, and no choice is made on it. Changing it is changing the
  experiment; a test checks that the two grids share no configuration and no model.

Every visit stays under about half a second on one thread of the 2-core machine the study was made
on: the convolutional and attention families stop near 0.5 M parameters (their FLOPs grow with the
square of the width), the dense family at 3 M; the Keras CNN (1.25 M parameters, about 120 MFLOP
per training sample) runs at 64 and 100 samples only.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from costmodel.errors import must

__all__ = [
    "DEV_SETTINGS",
    "DEV_WIDTHS",
    "FAMILIES",
    "FEATURE_COLUMNS",
    "KERAS_SETTINGS",
    "SETS",
    "SHAPES",
    "TEST_SETTINGS",
    "TEST_WIDTHS",
    "VISIT_COLUMNS",
    "Configuration",
    "configurations",
    "shape_label",
]

#: The families, in the tables' order (``scaled`` is the TPDS CNN layout at a width).
FAMILIES: tuple[str, ...] = ("mlp", "scaled", "resnet", "mobilenet", "vit")
#: The grids by name.
SETS: tuple[str, ...] = ("dev", "test")
#: The sample shapes and class counts: EMNIST's and CINIC-10's.
SHAPES: tuple[tuple[tuple[int, int, int], int], ...] = (((1, 28, 28), 47), ((3, 32, 32), 10))

#: Development widths per family (the model's ``width`` multiplier).
DEV_WIDTHS: Mapping[str, tuple[float, ...]] = MappingProxyType({
    "mlp": (0.0625, 0.25, 1.0, 2.0),
    "scaled": (0.5, 1.0, 2.0, 4.0),
    "resnet": (0.25, 0.5, 0.75, 1.0),
    "mobilenet": (0.25, 0.5, 1.0, 1.5),
    "vit": (0.5, 1.0, 1.5, 2.0),
})
#: Test widths per family: none of them is a development width (frozen).
TEST_WIDTHS: Mapping[str, tuple[float, ...]] = MappingProxyType({
    "mlp": (0.5, 1.5, 3.0),
    "scaled": (1.5, 3.0),
    "resnet": (0.375, 0.625, 0.875),
    "mobilenet": (0.375, 0.75, 1.25),
    "vit": (0.75, 1.25, 1.75),
})
#: Development (batch size, samples per visit) settings.
DEV_SETTINGS: tuple[tuple[int, int], ...] = tuple(itertools.product((8, 16, 32), (64, 256)))
#: Test settings: the development grid's extremes, and batch sizes and sample counts it does not have (frozen).
TEST_SETTINGS: tuple[tuple[int, int], ...] = (*itertools.product((8, 32), (64, 256)),
                                              *itertools.product((12, 20), (100, 200)))
#: Test settings of the Keras cifar10_cnn (a heavier model: 64 and 100 samples only; frozen).
KERAS_SETTINGS: tuple[tuple[int, int], ...] = ((8, 64), (32, 64), (12, 100), (20, 100))
#: The model features recorded with every visit (:class:`reference_impl.models.ModelFeatures` fields).
FEATURE_COLUMNS: tuple[str, ...] = ("params", "train_flops_per_sample", "conv_input_values", "elementwise_values",
                                    "autograd_nodes", "conv_calls")
#: Columns of a visits table (:func:`calibration.family_measure.measure`): one row per configuration
#: and round; ``seconds`` is the visit's thread CPU time, ``position`` its place in its round.
VISIT_COLUMNS: tuple[str, ...] = ("set", "family", "model", "width", "sample_shape", "num_classes", "batch_size",
                                  "samples", "steps", "round", "position", "seconds", "wall_seconds", *FEATURE_COLUMNS)


def shape_label(shape: tuple[int, ...]) -> str:
    """``(3, 32, 32) -> "3x32x32"``."""
    return "x".join(str(int(s)) for s in shape)


@dataclass(frozen=True)
class Configuration:
    """One measured configuration: a model at a width on a shape, trained at a batch size on a sample count.

    Attributes
    ----------
    set : str
        ``"dev"`` or ``"test"`` (:data:`SETS`).
    family : str
        One of :data:`FAMILIES` (the Keras cifar10_cnn counts as a plain CNN, ``scaled``).
    model : str
        The built-in model name (:data:`reference_impl.models.MODELS`).
    width : float
        The width multiplier (1.0 for the fixed Keras model).
    sample_shape : tuple of int
        One sample's shape, (C, H, W).
    num_classes : int
        Classes of the model's output.
    batch_size : int
        B, samples per optimizer step.
    samples : int
        m, samples of one visit (one local epoch).
    """

    set: str
    family: str
    model: str
    width: float
    sample_shape: tuple[int, int, int]
    num_classes: int
    batch_size: int
    samples: int

    @property
    def model_key(self) -> tuple[str, float, tuple[int, int, int], int]:
        """What identifies the model built (its name, width, shape and classes)."""
        return (self.model, self.width, self.sample_shape, self.num_classes)

    @property
    def key(self) -> tuple[str, float, tuple[int, int, int], int, int, int]:
        """What identifies the configuration's work (the model and its batch settings)."""
        return (*self.model_key, self.batch_size, self.samples)


def _grid(set_name: str, widths: Mapping[str, tuple[float, ...]], settings: tuple[tuple[int, int], ...]
          ) -> list[Configuration]:
    models = [(family, family, width, settings) for family in FAMILIES for width in widths[family]]
    if set_name == "test":
        models.append(("scaled", "keras-cifar", 1.0, KERAS_SETTINGS))
    return [Configuration(set_name, family, model, float(width), shape, classes, batch, samples)
            for shape, classes in SHAPES
            for family, model, width, model_settings in models
            for batch, samples in model_settings]


def configurations(set_name: str) -> tuple[Configuration, ...]:
    """Every configuration of grid ``set_name`` (``"dev"``: 240, ``"test"``: 232), in a fixed order."""
    if set_name == "dev":
        return tuple(_grid("dev", DEV_WIDTHS, DEV_SETTINGS))
    if set_name == "test":
        return tuple(_grid("test", TEST_WIDTHS, TEST_SETTINGS))
    raise must("set", f"be one of {', '.join(SETS)}", set_name)
