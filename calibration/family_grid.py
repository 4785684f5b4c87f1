"""The grids of the architecture-family study: which models, shapes, batch sizes and sample counts.

Does the local-training statement of the Astraea cost model (Duan et al., ICCD 2019; IEEE TPDS
32(1), 2021) price a visit of a model of a kind it was not fitted on? The family study
(:mod:`calibration.family_study`) answers it on five architecture families
(:mod:`reference_impl.models.families`, :func:`reference_impl.models.builtin.scaled_cnn`):
``mlp`` (dense layers only), ``scaled`` (the TPDS CNN layout), ``resnet`` (BatchNorm and skip
connections), ``mobilenet`` (depthwise-separable convolutions) and ``vit`` (patch embedding and
attention), each at a width multiplier, on the two image shapes of the papers' setups (1x28x28 with
47 classes, EMNIST's; 3x32x32 with 10, CINIC-10's).

Eight grids, each fixed here before any of its visits was measured:

* the **development** grid (:data:`DEV_WIDTHS` x :data:`SHAPES` x :data:`DEV_SETTINGS` at each
  family's default depth, and the depth variants :data:`DEV_DEPTH_VARIANTS` x :data:`SHAPES` x
  :data:`DEV_DEPTH_SETTINGS`): four widths per family, batch sizes 8, 16 and 32, 64 and 256 samples
  per visit, and two models per family at another depth. Modelling decisions (which terms the
  statement has) may look at it. The depth variants were added after ``test1`` had been seen;
* ``test1`` (**looked at**: :data:`TEST_WIDTHS` x :data:`SHAPES` x :data:`TEST_SETTINGS` at the
  default depths, and the Keras cifar10_cnn, a CNN of another layout, at :data:`KERAS_SETTINGS`): two
  or three other widths per family. It was frozen and measured, and its table was read before the
  development grid got its depth variants, so its figures are no longer an unseen test; it is now
  fitted on;
* ``test2`` (**looked at**: :data:`TEST2_MODELS` x :data:`SHAPES` x :data:`TEST_SETTINGS`): two
  models per family whose widths are no development width and whose depths are no development
  depth of their family, at the development grid's extreme batch settings and at batch sizes (12,
  20) and sample counts (100, 200, with a partial last batch at batch 12) the development grid does
  not have. It was frozen and measured, and its table was published; then the residuals of the
  test grids pointed at channel counts, which made the statement's channel term
  (``conv_padding_flops``), so it is no longer unseen for that term and is now fitted on;
* ``test3`` (**looked at**: :data:`TEST3_MODELS` x :data:`SHAPES` x :data:`TEST3_SETTINGS`): two
  models per family that no earlier grid has, with channel counts below, at and just above multiples
  of 16, at two of the development grid's settings and at batch sizes (10, 24) and sample counts (80,
  160) no earlier grid has. It was frozen after the channel term had been chosen on the development
  grid and measured, and its table was published; then its ResNets (under-priced at every channel
  count that is no multiple of 16) led to pricing padding FLOPs at the FLOP rate, so it is now
  fitted on;
* ``test4`` (**looked at**: :data:`TEST4_MODELS` x :data:`SHAPES` x :data:`TEST4_SETTINGS`): two models
  per family that no earlier grid has (channel counts just above, below and between multiples of 16;
  depths besides the development ones), at two of the development grid's settings and at batch sizes
  (14, 28) and sample counts (120, 180) no earlier grid has. It was frozen after the statement's terms
  had been chosen and before it was measured, and published twice (4 of 5 families each time). Fitted
  on the development grid alone, its ResNets with 17 channels were under-priced by about a sixth; fitted
  on every configuration measured so far (a refit of the stored visits on the development grid and
  ``test1`` to ``test3``), the same statement priced them within the bar: the development grid lacked
  channel counts off the blocks of 16;
* ``test5`` (**looked at**: :data:`TEST5_MODELS` x :data:`SHAPES` x :data:`TEST5_SETTINGS`): two models
  per family that no earlier grid has (channel counts 9, 18, 19 and 38 and their multiples; depths besides
  the development ones), at two of the development grid's settings and at batch sizes (18, 40) and sample
  counts (96, 150) no earlier grid has. It was frozen after the fit was widened to every looked-at grid
  and before it was measured, and published twice (4 of 5 families each time; the MobileNets
  under-priced); then its MobileNets were profiled and the measured-layer candidate
  (:mod:`calibration.operator_study`) was chosen on it, so it is now fitted on;
* ``test6`` (**looked at**: :data:`TEST6_MODELS` x :data:`SHAPES` x :data:`TEST6_SETTINGS`): two models
  per family that no earlier grid has (ResNets with 11 and 21 channels, MobileNets with 14 and 26; a
  6-block ViT), at two of the development grid's settings and at batch sizes (22, 36) and sample counts
  (72, 140) no earlier grid has. It was fixed after the measured-layer candidate was chosen and before
  any of its visits was measured, and published twice (5 of 5 families, then 4 of 5: the TPDS layout's
  in-family error 9.9% then 10.5%); then its TPDS-layout residuals were read by batch size, so it is now
  fitted on;
* ``test7`` (frozen, only reported: :data:`TEST7_MODELS` x :data:`SHAPES` x :data:`TEST7_SETTINGS`): two
  models per family that no earlier grid has (ResNets with 13 and 20 channels, MobileNets with 30 and
  42, ViTs 160 wide with one block and 64 wide with three), at two of the development grid's settings and
  at batch sizes (26, 44) and sample counts (88, 176) no earlier grid has. It was fixed after ``test6`` was
  read and before any of its visits was measured: the first clean test of the measured-layer candidate
  (:mod:`calibration.operator_study`), and another of the count statement. Changing it is changing the
  experiment; a test checks that no test grid shares a configuration or a model with the development grid,
  and that ``test7`` shares no model with any grid.

The statement is fitted on the **development configurations**, :data:`FIT_SETS`: the development grid
and every looked-at grid (a grid that was looked at can no longer test; it can still teach the fit).
Only ``test7`` is reported as a test.

A model's depth (:data:`DEPTH_KEYWORDS`: the family's keyword, :data:`DEFAULT_DEPTHS`: its default)
is the MLP's hidden layers, the ResNet's blocks per stage, the MobileNet's blocks, the ViT's
transformer blocks; the TPDS layout and the Keras CNN have none (depth 0 in the tables).

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
    "DEFAULT_DEPTHS",
    "DEPTH_KEYWORDS",
    "DEV_DEPTH_SETTINGS",
    "DEV_DEPTH_VARIANTS",
    "DEV_SETTINGS",
    "DEV_WIDTHS",
    "FAMILIES",
    "FEATURE_COLUMNS",
    "FIT_SETS",
    "KERAS_SETTINGS",
    "LOOKED_AT_NOTES",
    "SETS",
    "SHAPES",
    "PUBLISHED_TEST",
    "TEST2_MODELS",
    "TEST3_MODELS",
    "TEST3_SETTINGS",
    "TEST4_MODELS",
    "TEST4_SETTINGS",
    "TEST5_MODELS",
    "TEST5_SETTINGS",
    "TEST6_MODELS",
    "TEST6_SETTINGS",
    "TEST7_MODELS",
    "TEST7_SETTINGS",
    "TEST_SETS",
    "TEST_SETTINGS",
    "TEST_WIDTHS",
    "VISIT_COLUMNS",
    "Configuration",
    "configurations",
    "shape_label",
]

#: The families, in the tables' order (``scaled`` is the TPDS CNN layout at a width).
FAMILIES: tuple[str, ...] = ("mlp", "scaled", "resnet", "mobilenet", "vit")
#: The grids the statement is fitted on (the development configurations): the development grid and every
#: looked-at test grid.
FIT_SETS: tuple[str, ...] = ("dev", "test1", "test2", "test3", "test4", "test5", "test6")
#: The test grids (never fitted on), the published one first.
TEST_SETS: tuple[str, ...] = ("test7",)
#: The grids by name: the fitted ones, then the tests.
SETS: tuple[str, ...] = (*FIT_SETS, *TEST_SETS)
#: The test grid the published table reports.
PUBLISHED_TEST = "test7"
#: Why each grid of :data:`FIT_SETS` besides the development grid was looked at (printed with the table).
LOOKED_AT_NOTES: Mapping[str, str] = MappingProxyType({
    "test1": "the first test grid (default depths; the Keras CNN with `scaled`): its table was read before the "
             "development grid got its depth variants",
    "test2": "published with an earlier statement (new widths and depths): its residuals, with `test1`'s, pointed "
             "at channel counts, which made the channel term (`conv_padding_flops`)",
    "test3": "published with the channel term: its ResNets, under-priced wherever a channel count is no multiple "
             "of 16, led to pricing the padding FLOPs at the FLOP rate (`(F + F_pad)/theta`)",
    "test4": "published twice with the current statement fitted on the development grid alone (4 of 5 families "
             "each time; ResNets with 17 channels under-priced), which led to fitting on every looked-at grid",
    "test5": "published twice fitted on `dev` and `test1`-`test4` (4 of 5 families each time; its MobileNets "
             "under-priced): the measured-layer candidate was chosen on it",
    "test6": "published twice fitted on `dev` and `test1`-`test5` (5 of 5, then 4 of 5 families: the TPDS layout's "
             "in-family error 10.5%); its TPDS-layout residuals were read by batch size",
})
#: The builder keyword of each family's depth (the TPDS layout has none).
DEPTH_KEYWORDS: Mapping[str, str] = MappingProxyType({"mlp": "depth", "resnet": "blocks", "mobilenet": "blocks",
                                                      "vit": "depth"})
#: Each family's default depth (:mod:`reference_impl.models.families`).
DEFAULT_DEPTHS: Mapping[str, int] = MappingProxyType({"mlp": 2, "resnet": 1, "mobilenet": 5, "vit": 2})
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
#: ``test1`` widths per family, at the default depths: none of them is a development width (frozen, looked at).
TEST_WIDTHS: Mapping[str, tuple[float, ...]] = MappingProxyType({
    "mlp": (0.5, 1.5, 3.0),
    "scaled": (1.5, 3.0),
    "resnet": (0.375, 0.625, 0.875),
    "mobilenet": (0.375, 0.75, 1.25),
    "vit": (0.75, 1.25, 1.75),
})
#: Development models at another depth than the default, (width, depth) per family (added after ``test1``
#: was seen): depths on both sides of ``test2``'s, at development widths.
DEV_DEPTH_VARIANTS: Mapping[str, tuple[tuple[float, int], ...]] = MappingProxyType({
    "mlp": ((1.0, 1), (0.25, 4)),
    "resnet": ((0.25, 3), (0.5, 3)),
    "mobilenet": ((0.5, 3), (1.0, 7)),
    "vit": ((1.0, 1), (0.5, 4)),
})
#: ``test2`` models, (width, depth) per family (depth None: the TPDS layout's fixed one): no width is a
#: development width, no depth a development depth of the family (frozen before it was measured).
TEST2_MODELS: Mapping[str, tuple[tuple[float, int | None], ...]] = MappingProxyType({
    "mlp": ((0.75, 3), (1.25, 3)),
    "scaled": ((0.75, None), (2.5, None)),
    "resnet": ((0.375, 2), (0.625, 2)),
    "mobilenet": ((0.625, 4), (1.125, 6)),
    "vit": ((0.75, 3), (1.25, 3)),
})
#: ``test3`` models, (width, depth) per family: no model of an earlier grid; channel counts below, at and just
#: above multiples of 16 (frozen before it was measured, after the channel term was chosen on ``dev``).
TEST3_MODELS: Mapping[str, tuple[tuple[float, int | None], ...]] = MappingProxyType({
    "mlp": ((0.375, 5), (1.75, 3)),
    "scaled": ((1.25, None), (3.5, None)),
    "resnet": ((0.3125, 2), (1.125, 1)),
    "mobilenet": ((0.3125, 6), (0.875, 4)),
    "vit": ((0.25, 3), (1.375, 5)),
})
#: ``test4`` models, (width, depth) per family: no model of an earlier grid (frozen before it was measured, after
#: the statement's terms were chosen; looked at since).
TEST4_MODELS: Mapping[str, tuple[tuple[float, int | None], ...]] = MappingProxyType({
    "mlp": ((0.875, 2), (2.5, 1)),
    "scaled": ((0.625, None), (2.25, None)),
    "resnet": ((0.4375, 1), (1.0625, 2)),
    "mobilenet": ((0.6875, 5), (1.375, 3)),
    "vit": ((0.875, 4), (1.625, 1)),
})
#: ``test5`` models, (width, depth) per family: no model of an earlier grid (channel counts 9, 18, 19, 38 and
#: their multiples; frozen before it was measured, after the fit was widened to every looked-at grid).
TEST5_MODELS: Mapping[str, tuple[tuple[float, int | None], ...]] = MappingProxyType({
    "mlp": ((1.125, 4), (2.25, 2)),
    "scaled": ((0.875, None), (2.75, None)),
    "resnet": ((0.5625, 2), (1.1875, 1)),
    "mobilenet": ((0.5625, 6), (1.1875, 4)),
    "vit": ((0.625, 5), (1.5, 3)),
})
#: ``test6`` models, (width, depth) per family: no model of an earlier grid (ResNets of 11 and 21 channels,
#: MobileNets of 14 and 26; frozen before it was measured, after the measured-layer candidate was chosen).
TEST6_MODELS: Mapping[str, tuple[tuple[float, int | None], ...]] = MappingProxyType({
    "mlp": ((0.625, 3), (1.375, 2)),
    "scaled": ((1.625, None), (3.25, None)),
    "resnet": ((0.6875, 1), (1.3125, 2)),
    "mobilenet": ((0.4375, 4), (0.8125, 6)),
    "vit": ((0.375, 6), (2.25, 2)),
})
#: ``test7`` models, (width, depth) per family: no model of an earlier grid (ResNets of 13 and 20 channels, MobileNets
#: of 30 and 42, ViTs 160 wide and 64 wide; frozen before it was measured, after ``test6`` was read).
TEST7_MODELS: Mapping[str, tuple[tuple[float, int | None], ...]] = MappingProxyType({
    "mlp": ((0.4375, 2), (1.875, 3)),
    "scaled": ((1.125, None), (2.875, None)),
    "resnet": ((0.8125, 1), (1.25, 2)),
    "mobilenet": ((0.9375, 3), (1.3125, 5)),
    "vit": ((2.5, 1), (1.0625, 3)),
})
#: Development (batch size, samples per visit) settings.
DEV_SETTINGS: tuple[tuple[int, int], ...] = tuple(itertools.product((8, 16, 32), (64, 256)))
#: Development settings of the depth variants (the extremes of :data:`DEV_SETTINGS`, to keep the measurement short).
DEV_DEPTH_SETTINGS: tuple[tuple[int, int], ...] = tuple(itertools.product((8, 32), (64, 256)))
#: Test settings (both test grids): the development grid's extremes, and batch sizes and sample counts it
#: does not have (frozen).
TEST_SETTINGS: tuple[tuple[int, int], ...] = (*itertools.product((8, 32), (64, 256)),
                                              *itertools.product((12, 20), (100, 200)))
#: ``test3`` settings: two of the development grid's, and batch sizes (10, 24) and sample counts (80, 160) no
#: earlier grid has, with partial last batches (frozen).
TEST3_SETTINGS: tuple[tuple[int, int], ...] = ((8, 64), (32, 256), *itertools.product((10, 24), (80, 160)))
#: ``test4`` settings: two of the development grid's, and batch sizes (14, 28) and sample counts (120, 180) no
#: earlier grid has, with partial last batches (frozen).
TEST4_SETTINGS: tuple[tuple[int, int], ...] = ((16, 64), (8, 256), *itertools.product((14, 28), (120, 180)))
#: ``test5`` settings: two of the development grid's, and batch sizes (18, 40) and sample counts (96, 150) no
#: earlier grid has, with partial last batches (frozen).
TEST5_SETTINGS: tuple[tuple[int, int], ...] = ((32, 64), (16, 256), *itertools.product((18, 40), (96, 150)))
#: ``test6`` settings: two of the development grid's, and batch sizes (22, 36) and sample counts (72, 140) no
#: earlier grid has, with partial last batches (frozen).
TEST6_SETTINGS: tuple[tuple[int, int], ...] = ((8, 64), (32, 256), *itertools.product((22, 36), (72, 140)))
#: ``test7`` settings: two of the development grid's, and batch sizes (26, 44) and sample counts (88, 176) no
#: earlier grid has, with partial last batches at batch 26 (frozen).
TEST7_SETTINGS: tuple[tuple[int, int], ...] = ((16, 64), (8, 256), *itertools.product((26, 44), (88, 176)))
#: Test settings of the Keras cifar10_cnn (a heavier model: 64 and 100 samples only; frozen).
KERAS_SETTINGS: tuple[tuple[int, int], ...] = ((8, 64), (32, 64), (12, 100), (20, 100))
#: The model features recorded with every visit (:class:`reference_impl.models.ModelFeatures` fields).
FEATURE_COLUMNS: tuple[str, ...] = ("params", "train_flops_per_sample", "conv_input_values", "elementwise_values",
                                    "autograd_nodes", "conv_calls", "conv_padding_flops")
#: Columns of a visits table (:func:`calibration.family_measure.measure`): one row per configuration
#: and round; ``seconds`` is the visit's thread CPU time, ``position`` its place in its round.
VISIT_COLUMNS: tuple[str, ...] = ("set", "family", "model", "width", "depth", "sample_shape", "num_classes",
                                  "batch_size", "samples", "steps", "round", "position", "seconds", "wall_seconds",
                                  *FEATURE_COLUMNS)


def shape_label(shape: tuple[int, ...]) -> str:
    """``(3, 32, 32) -> "3x32x32"``."""
    return "x".join(str(int(s)) for s in shape)


@dataclass(frozen=True)
class Configuration:
    """One measured configuration: a model at a width and depth on a shape, trained at a batch size on a sample count.

    Attributes
    ----------
    set : str
        ``"dev"`` or a test grid, ``"test1"`` to ``"test7"`` (:data:`SETS`).
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
    depth : int or None
        The model's depth (:data:`DEPTH_KEYWORDS`); None: the family's default (:attr:`layers`).
    """

    set: str
    family: str
    model: str
    width: float
    sample_shape: tuple[int, int, int]
    num_classes: int
    batch_size: int
    samples: int
    depth: int | None = None

    @property
    def layers(self) -> int:
        """The depth built: :attr:`depth`, else the family's default; 0 for a model without one."""
        return self.depth if self.depth is not None else DEFAULT_DEPTHS.get(self.model, 0)

    @property
    def model_key(self) -> tuple[str, float, int, tuple[int, int, int], int]:
        """What identifies the model built (its name, width, depth, shape and classes)."""
        return (self.model, self.width, self.layers, self.sample_shape, self.num_classes)

    @property
    def key(self) -> tuple[str, float, int, tuple[int, int, int], int, int, int]:
        """What identifies the configuration's work (the model and its batch settings)."""
        return (*self.model_key, self.batch_size, self.samples)


_Model = tuple[str, str, float, int | None, tuple[tuple[int, int], ...]]
#: The test grids of (width, depth) models per family, each with its settings.
_MODEL_GRIDS = {"test2": (TEST2_MODELS, TEST_SETTINGS), "test3": (TEST3_MODELS, TEST3_SETTINGS),
                "test4": (TEST4_MODELS, TEST4_SETTINGS), "test5": (TEST5_MODELS, TEST5_SETTINGS),
                "test6": (TEST6_MODELS, TEST6_SETTINGS), "test7": (TEST7_MODELS, TEST7_SETTINGS)}


def _models(set_name: str) -> list[_Model]:
    """(family, model name, width, depth, settings) of grid ``set_name``."""
    if set_name == "dev":
        return [*((f, f, w, None, DEV_SETTINGS) for f in FAMILIES for w in DEV_WIDTHS[f]),
                *((f, f, w, d, DEV_DEPTH_SETTINGS) for f in FAMILIES for w, d in DEV_DEPTH_VARIANTS.get(f, ()))]
    if set_name == "test1":
        return [*((f, f, w, None, TEST_SETTINGS) for f in FAMILIES for w in TEST_WIDTHS[f]),
                ("scaled", "keras-cifar", 1.0, None, KERAS_SETTINGS)]
    if set_name in _MODEL_GRIDS:
        models, settings = _MODEL_GRIDS[set_name]
        return [(f, f, w, d, settings) for f in FAMILIES for w, d in models[f]]
    raise must("set", f"be one of {', '.join(SETS)}", set_name)


def configurations(set_name: str) -> tuple[Configuration, ...]:
    """Every configuration of grid ``set_name`` (``"dev"``: 304, ``"test1"``: 232, ``"test2"``: 160,
    ``"test3"``: 120, ``"test4"``: 120, ``"test5"``: 120, ``"test6"``: 120, ``"test7"``: 120), in a fixed order."""
    return tuple(Configuration(set_name, family, model, float(width), shape, classes, batch, samples, depth)
                 for shape, classes in SHAPES
                 for family, model, width, depth, settings in _models(set_name)
                 for batch, samples in settings)
