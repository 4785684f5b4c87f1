"""Time client visits of the family study's configurations, in interleaved rounds, as the engine times them.

A visit (:meth:`Workload.visit`) is timed exactly like the in-process engine's
(:meth:`reference_impl.engine.in_process.Engine.train_visit`): the thread's CPU time
(``time.thread_time``) of ``vector_to_parameters`` + :func:`~reference_impl.engine.training.train_local`
(one local epoch, Adam at learning rate 1e-3) + ``parameters_to_vector(...).clone()``, on one torch
thread, with glibc keeping freed memory (:func:`~reference_impl.engine.allocator.keep_freed_memory`).
Every repetition of a configuration does the same work: the same start weights, batch order, dropout
draws and BatchNorm statistics. Two pitfalls, both measured while the study was designed, are avoided:

* ``vector_to_parameters`` makes the parameters *views* of the vector it is given, so training writes
  into it. Re-using one start vector across visits keeps training it: a 2.8 M-parameter MLP went
  from 160 to 330 ms over about 20 visits (dead ReLU units, zero gradients, a slow ``sqrt`` in Adam).
  Every visit here gets a fresh copy of the start vector.
* Interleaving cold: running other models between two visits of one made a ResNet visit 10-25%
  slower than back to back (oneDNN's primitive cache of 1024 entries overflowed, the CPU caches were
  cold). Before every timed visit its configuration's model takes an untimed two-step warm-up at
  the configuration's batch size, and ``ONEDNN_PRIMITIVE_CACHE_CAPACITY`` is raised to
  :data:`PRIMITIVE_CACHE_CAPACITY` unless the environment sets it (:func:`raise_primitive_cache`,
  called when this module is imported, before it imports torch; oneDNN reads the variable when its
  primitive cache is first used, at the process's first convolution).

The protocol (:func:`measure`) is :mod:`calibration.protocol`'s: round ``r`` runs every configuration
once, in an order drawn from ``(seed, r)``; nothing is re-run and nothing dropped. Data are generated
tensors of the sample shape (seeded; the cost of a visit depends on shapes, not on the values, up to
the weight-state effect docs/limits.md describes).
"""

from __future__ import annotations

import os

#: oneDNN primitive cache entries while measuring (the default, 1024, overflows on a grid of
#: hundreds of models with tens of primitives each).
PRIMITIVE_CACHE_CAPACITY = "65536"


def raise_primitive_cache() -> str:
    """Set ``ONEDNN_PRIMITIVE_CACHE_CAPACITY`` to :data:`PRIMITIVE_CACHE_CAPACITY` unless it is set;
    return its value."""
    return os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", PRIMITIVE_CACHE_CAPACITY)


raise_primitive_cache()

import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402

import pandas as pd  # noqa: E402
import torch  # noqa: E402
from torch.nn.utils import parameters_to_vector, vector_to_parameters  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from calibration.family_grid import (  # noqa: E402
    DEPTH_KEYWORDS,
    FEATURE_COLUMNS,
    VISIT_COLUMNS,
    Configuration,
    shape_label,
)
from calibration.protocol import interleaved_order  # noqa: E402
from costmodel.errors import check_int  # noqa: E402
from reference_impl.engine.allocator import keep_freed_memory  # noqa: E402
from reference_impl.engine.training import steps_per_visit, train_local  # noqa: E402
from reference_impl.models import build_model, model_features  # noqa: E402
from reference_impl.models.families import mlp, mobilenet, resnet, vit  # noqa: E402

__all__ = ["LEARNING_RATE", "PRIMITIVE_CACHE_CAPACITY", "WARMUP_STEPS", "Workload", "build", "measure",
           "raise_primitive_cache"]

#: Untimed optimizer steps of a configuration's model right before each of its timed visits.
WARMUP_STEPS = 2
#: Adam's learning rate (the papers').
LEARNING_RATE = 1e-3
_BUILD_SEED, _DATA_SEED, _DROPOUT_SEED, _ORDER_SEED = 0x40DE1, 0xDA7A, 0xD0, 0x5F
_DEPTH_BUILDERS = {"mlp": mlp, "mobilenet": mobilenet, "resnet": resnet, "vit": vit}


def build(configuration: Configuration) -> torch.nn.Module:
    """The configuration's model: :func:`~reference_impl.models.build_model` at its width, or, when it sets a
    depth, the family's builder with its depth keyword (:data:`~calibration.family_grid.DEPTH_KEYWORDS`)."""
    c = configuration
    if c.depth is None:
        return build_model(c.model, sample_shape=c.sample_shape, num_classes=c.num_classes, width=c.width)
    return _DEPTH_BUILDERS[c.model](c.width, c.sample_shape, c.num_classes, **{DEPTH_KEYWORDS[c.model]: c.depth})



class Workload:
    """One model on one shape, its start weights and BatchNorm statistics, timed visit by visit.

    Parameters
    ----------
    configuration : Configuration
        Any configuration of the model (its batch settings do not matter here).
    x, y : torch.Tensor
        The samples and labels visits train on (a visit of ``m`` samples takes the first ``m``).
    """

    def __init__(self, configuration: Configuration, x: torch.Tensor, y: torch.Tensor) -> None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(_BUILD_SEED)
            self.model = build(configuration)
        self.features = model_features(self.model, configuration.sample_shape, configuration.num_classes)
        self.start = parameters_to_vector(self.model.parameters()).detach().clone()
        self.buffers = [(b, b.detach().clone()) for b in self.model.buffers()]
        self.x, self.y = x, y

    def visit(self, samples: int, batch_size: int) -> tuple[float, float, int]:
        """One visit from the start weights: (thread CPU seconds, wall seconds, optimizer steps)."""
        with torch.no_grad():
            for buffer, value in self.buffers:      # BatchNorm running statistics as at the start
                buffer.copy_(value)
        torch.manual_seed(_DROPOUT_SEED)
        generator = torch.Generator().manual_seed(_ORDER_SEED)
        vector = self.start.clone()                 # a fresh copy: training writes into it (module docstring)
        wall, cpu = time.perf_counter(), time.thread_time()
        vector_to_parameters(vector, self.model.parameters())
        steps = train_local(self.model, self.x[:samples], self.y[:samples], epochs=1, batch_size=batch_size,
                            learning_rate=LEARNING_RATE, generator=generator)
        parameters_to_vector(self.model.parameters()).detach().clone()
        return time.thread_time() - cpu, time.perf_counter() - wall, steps


def _data(configurations: Sequence[Configuration]) -> dict[tuple[tuple[int, int, int], int], tuple]:
    """Generated samples and labels per (shape, classes), enough for the largest visit."""
    most: dict[tuple[tuple[int, int, int], int], int] = {}
    for c in configurations:
        key = (c.sample_shape, c.num_classes)
        most[key] = max(most.get(key, 0), c.samples, WARMUP_STEPS * c.batch_size)
    data = {}
    for (shape, classes), count in most.items():
        generator = torch.Generator().manual_seed(_DATA_SEED)
        data[(shape, classes)] = (torch.randn((count, *shape), generator=generator),
                                  torch.randint(0, classes, (count,), generator=generator))
    return data


def measure(configurations: Sequence[Configuration], *, rounds: int = 5, seed: int = 0,
            progress: bool | None = None) -> pd.DataFrame:
    """Time every configuration ``rounds`` times in interleaved rounds (module docstring).

    Returns one row per configuration and round (:data:`~calibration.family_grid.VISIT_COLUMNS`):
    ``seconds`` is the visit's thread CPU time, ``wall_seconds`` its wall time, ``position`` its place
    in its round's order, the model's features beside. ``progress``: a tqdm bar (``None``: only on a terminal).
    """
    rounds = check_int("rounds", rounds, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    keep_freed_memory()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        data = _data(configurations)
        workloads: dict[tuple, Workload] = {}
        for c in configurations:
            if c.model_key not in workloads:
                workloads[c.model_key] = Workload(c, *data[(c.sample_shape, c.num_classes)])
        order = interleaved_order(list(configurations), [rounds] * len(configurations), seed=seed)
        rows = []
        per_round = len(configurations)
        with tqdm(total=len(order), desc="family study visits", unit="visit",
                  disable=None if progress is None else not progress) as bar:
            for index, (c, round_index) in enumerate(order):
                workload = workloads[c.model_key]
                workload.visit(WARMUP_STEPS * c.batch_size, c.batch_size)       # untimed warm-up
                seconds, wall_seconds, steps = workload.visit(c.samples, c.batch_size)
                if steps != steps_per_visit(c.samples, batch_size=c.batch_size, epochs=1):  # pragma: no cover
                    raise RuntimeError(f"a visit of {c.samples} samples at batch {c.batch_size} took {steps} steps")
                features = workload.features
                rows.append((c.set, c.family, c.model, c.width, c.layers, shape_label(c.sample_shape), c.num_classes,
                             c.batch_size, c.samples, steps, round_index, index % per_round, seconds, wall_seconds,
                             *(getattr(features, name) for name in FEATURE_COLUMNS)))
                bar.update()
    finally:
        torch.set_num_threads(threads)
    return pd.DataFrame(rows, columns=list(VISIT_COLUMNS))
