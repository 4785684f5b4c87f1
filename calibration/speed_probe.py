"""Is the machine running at its usual speed right now? A short reference workload, and the rule that
marks a profiled run as disturbed.

Why. The calibration and validation runs of the Astraea cost model (Duan et al., ICCD 2019; IEEE
TPDS 32(1), 2021) are timed by the thread's CPU time, which other processes of the same machine
do not inflate. A virtual machine shares its host, though, and the host's other tenants do slow it:
measured on the 2-core machine this was built on (a TPDS-CNN training epoch of 64 samples every
0.5 s for 90 s), the same 12.5 ms of training took 17-18 ms during
episodes of 10-20 s, several per minute and a half, while the memory-streaming part slowed by
about 10%. A run caught in such an episode measures the host, not the model; fitting or validating
on it mixes the two.

The probe (:func:`probe_seconds`): one epoch of the TPDS CNN (68,873 parameters; 1x28x28, 47
classes) over 64 generated samples in batches of 16 with Adam, on one torch thread, timed by the
thread's CPU time, best of three (about 10 ms each, 40 ms in all). Every repetition starts from the
same initial weights and dropout draws: trained in place, the probe's own model would drift
(dead ReLU units make later steps dearer, see docs/limits.md) and so would its time. The best of three keeps the probe's own
scatter near 2%; an episode lasts far longer than the probe and shows in all three.

The rule (:class:`SpeedGuard`): a run is disturbed when the slower of its probes (one just before,
one just after the run) exceeds the machine's usual speed by more than ``tolerance`` (default 10%).
The usual speed is the lower quartile of all the probes of the sweep (:func:`usual_probe_seconds`),
not the fastest, which is one lucky draw: over the 90 runs of a calibration sweep the probes spread
from 9.8 ms (fastest) over 10.44 ms (lower quartile) and 10.57 ms (median) to 11.0 ms, so the
fastest would put a 10% bar at 10.8 ms, inside the ordinary spread, and the quartile at 11.5 ms,
above it and well below an episode (12-18 ms). The usual speed is only known at the end, so the sweep
(:func:`calibration.sweep.run_sweep`) checks every run again once all have run, re-runs the
disturbed ones (after a pause), and repeats this up to ``passes`` times; runs still disturbed then
are kept and counted.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

from costmodel.errors import check_int, check_number
from reference_impl.engine.allocator import keep_freed_memory
from reference_impl.engine.training import train_local
from reference_impl.models import tpds_emnist_cnn

__all__ = ["DEFAULT_GUARD", "PROBE_REPEATS", "USUAL_QUANTILE", "SpeedGuard", "probe_seconds", "usual_probe_seconds"]

#: Timed repetitions of the reference workload per probe (the best counts).
PROBE_REPEATS = 3
#: The quantile of a sweep's probes taken as the machine's usual speed.
USUAL_QUANTILE = 0.25

_WORKLOAD: dict[str, object] = {}


def _workload() -> tuple[object, object, object, object]:
    """The probe's model, its initial weights and its data, built once per process (fixed seeds)."""
    if not _WORKLOAD:
        keep_freed_memory()                     # probe under the allocator settings the runs use
        generator = torch.Generator().manual_seed(0x5EED)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0x5EED)
            _WORKLOAD["model"] = tpds_emnist_cnn(47)
        _WORKLOAD["initial"] = copy.deepcopy(_WORKLOAD["model"].state_dict())
        _WORKLOAD["x"] = torch.randn(64, 1, 28, 28, generator=generator)
        _WORKLOAD["y"] = torch.randint(0, 47, (64,), generator=generator)
    return _WORKLOAD["model"], _WORKLOAD["initial"], _WORKLOAD["x"], _WORKLOAD["y"]


def probe_seconds(repeats: int = PROBE_REPEATS) -> float:
    """Thread CPU seconds of the reference workload (see the module docstring), best of ``repeats``."""
    repeats = check_int("repeats", repeats, minimum=1)
    model, initial, x, y = _workload()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        best = math.inf
        for _ in range(repeats):
            # the same work every time: the initial weights (training them in place would kill ReLU
            # units probe after probe, and a step on dead units costs more) and the same dropout draws
            model.load_state_dict(initial)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(1)
                generator = torch.Generator().manual_seed(1)
                start = time.thread_time()
                train_local(model, x, y, epochs=1, batch_size=16, learning_rate=1e-3, generator=generator)
                best = min(best, time.thread_time() - start)
    finally:
        torch.set_num_threads(threads)
    return best


def usual_probe_seconds(probes_s: Iterable[float]) -> float:
    """The machine's usual probe time: the lower quartile (:data:`USUAL_QUANTILE`) of ``probes_s``
    (finite, positive ones; NaN when there are none)."""
    values = np.array([float(p) for p in probes_s], dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    return float(np.quantile(values, USUAL_QUANTILE)) if values.size else math.nan


@dataclass(frozen=True, kw_only=True)
class SpeedGuard:
    """When is a run disturbed, and how hard the sweep tries to replace it.

    Attributes
    ----------
    tolerance : float
        A run is disturbed when its slower probe exceeds the machine's usual probe time
        (:func:`usual_probe_seconds`) by more than this fraction (default 0.10).
    passes : int
        Extra passes over the disturbed runs after the sweep (default 3; 0 only records probes).
    pause_s : float
        Seconds to wait before each extra pass, so a host episode can end (default 5).
    """

    tolerance: float = 0.10
    passes: int = 3
    pause_s: float = 5.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "tolerance", check_number("tolerance", self.tolerance, exclusive_minimum=0.0))
        object.__setattr__(self, "passes", check_int("passes", self.passes, minimum=0))
        object.__setattr__(self, "pause_s", check_number("pause_s", self.pause_s, minimum=0.0))

    def slowdown(self, probes_s: Iterable[float], usual_s: float) -> float:
        """How much slower than ``usual_s`` the slower of a run's probes was (0.25 = 25%)."""
        probes = [float(p) for p in probes_s]
        if not probes or not all(math.isfinite(p) and p > 0 for p in probes) or not usual_s > 0:
            return math.nan
        return max(probes) / float(usual_s) - 1.0

    def disturbed(self, probes_s: Iterable[float], usual_s: float) -> bool:
        """Whether a run with these probes was disturbed (a run without probes is not judged)."""
        slowdown = self.slowdown(probes_s, usual_s)
        return math.isfinite(slowdown) and slowdown > self.tolerance


#: The guard sweeps use unless told otherwise.
DEFAULT_GUARD = SpeedGuard()
