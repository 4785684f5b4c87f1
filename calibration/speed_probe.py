"""How fast is the machine running right now? A short reference workload, and the usual time of many.

Why. The calibration and validation runs of the Astraea cost model (Duan et al., ICCD 2019; IEEE
TPDS 32(1), 2021) are timed by the thread's CPU time, which other processes of the same machine
do not inflate. A virtual machine shares its host, though, and the host's other tenants do slow it:
measured on the 2-core machine this was built on (a TPDS-CNN training epoch of 64 samples every
0.5 s for 90 s), the same 12.5 ms of training took 17-18 ms during
episodes of 10-20 s, several per minute and a half, while the memory-streaming part slowed by
about 10%. A run caught in such an episode measures the host as well as the model.

The probe (:func:`probe_seconds`): one epoch of the TPDS CNN (68,873 parameters; 1x28x28, 47
classes) over 64 generated samples in batches of 16 with Adam, on one torch thread, timed by the
thread's CPU time, best of three (about 10 ms each, 40 ms in all). Every repetition starts from the
same initial weights and dropout draws: trained in place, the probe's own model would drift
(dead ReLU units make later steps dearer, see docs/limits.md) and so would its time. The best of three keeps the probe's own
scatter near 2%; an episode lasts far longer than the probe and shows in all three.

What it is for (:mod:`calibration.protocol`): a sweep times a probe before every few runs, and the
distribution of those times describes the machine's speed while the sweep ran. It is reported, and
its usual value (:func:`usual_probe_seconds`, the median) is stored with a calibration, so that a
validation or a prediction can say the machine is slower or faster now, or another machine, and
``calibrate --quick`` can rescale a calibration's compute coefficients by it. It corrects no run:
normalising each run by the probe timed next to it made two back-to-back calibrations agree less
well, not better (the probe's own scatter adds to the run's), and re-running runs whose probe looked
slow selected runs from lucky episodes and never converged on a busy machine.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Iterable

import numpy as np
import torch

from costmodel.errors import check_int
from reference_impl.engine.allocator import keep_freed_memory
from reference_impl.engine.training import train_local
from reference_impl.models import tpds_emnist_cnn

__all__ = ["PROBE_REPEATS", "USUAL_QUANTILE", "probe_seconds", "usual_probe_seconds"]

#: Timed repetitions of the reference workload per probe (the best counts).
PROBE_REPEATS = 3
#: The quantile of a sweep's probes taken as the machine's usual speed (the median: the most
#: reproducible figure between two sweeps; the fastest probe is one lucky draw).
USUAL_QUANTILE = 0.5

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
    """The machine's usual probe time: the median (:data:`USUAL_QUANTILE`) of ``probes_s``
    (finite, positive ones; NaN when there are none)."""
    values = np.array([float(p) for p in probes_s], dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    return float(np.quantile(values, USUAL_QUANTILE)) if values.size else math.nan
