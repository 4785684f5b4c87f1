"""``calibrate --quick``: a calibration for this machine in about a minute, by rescaling another one.

A full calibration of the Astraea cost model (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) profiles
a sweep of runs for several minutes. The quick path measures only the machine's speed: the speed
probe (:func:`calibration.speed_probe.probe_seconds`, a TPDS-CNN training epoch, best of three) timed
:data:`QUICK_PROBES` times, :data:`QUICK_SPACING_S` apart, so that the probes span several of a shared
host's episodes (tens of seconds each) rather than one. Its median ``p`` against the base
calibration's recorded probe ``p0`` (``machine.speed_probe_s``, the median of its sweep's probes)
gives the speed factor ``f = p0 / p``, and every device-side compute coefficient is rescaled by it
(:meth:`costmodel.contracts.calibration_file.Calibration.with_device_speed`: ``flops_per_s`` times
``f``, the local-training and augmentation seconds divided by it). Everything else is the base's:
server-side work, serialization, links, ``train_time_cv``.

What it cannot know: the probe is one CNN's training, so a machine whose speed differs by kind
(another vector width, cache size, torch build) rather than by degree is rescaled as if it differed
only by degree; and the result has no held-out table of its own. Its measured error against a full
calibration is stated in docs/limits.md.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from calibration.machine import describe_machine
from calibration.protocol import speed_distribution
from calibration.speed_probe import probe_seconds, usual_probe_seconds
from costmodel.contracts.calibration_file import Calibration
from costmodel.errors import check_int, check_number, must

__all__ = ["QUICK_PROBES", "QUICK_SPACING_S", "quick_calibration"]

#: Speed probes the quick path times.
QUICK_PROBES = 30
#: Seconds between two of its probes (the probes span about 45 s of the host's episodes).
QUICK_SPACING_S = 1.5


def quick_calibration(base: Calibration, *, probes: int | None = None, spacing_s: float | None = None,
                      probe: Callable[[], float] | None = None,
                      sleep: Callable[[float], None] | None = None) -> tuple[Calibration, dict[str, Any]]:
    """Rescale ``base``'s device-side compute coefficients to this machine's measured speed.

    Parameters
    ----------
    base : Calibration
        A calibration recording its machine's speed probe (``machine.speed_probe_s``).
    probes : int, optional
        Speed probes to time (>= 1; default :data:`QUICK_PROBES`).
    spacing_s : float, optional
        Seconds to wait between two probes (>= 0; default :data:`QUICK_SPACING_S`).
    probe, sleep : callable, optional
        The probe and the wait (default :func:`calibration.speed_probe.probe_seconds`, :func:`time.sleep`).

    Returns
    -------
    calibration : Calibration
        ``base.with_device_speed(f)``, ``f = p0 / median(probes)``, with this machine's description
        (its ``speed_probe_s`` the probes' median) and a source saying what was rescaled from what.
    report : dict
        ``factor``, ``base_probe_s``, ``probe`` (:func:`calibration.protocol.speed_distribution` of
        the probes) and ``base_machine`` (the base's CPU).

    Raises
    ------
    InputError
        ``base`` records no speed probe, or a setting is out of range.
    """
    if not isinstance(base, Calibration):
        raise must("base", "be a Calibration", type(base).__name__)
    probes = check_int("probes", QUICK_PROBES if probes is None else probes, minimum=1)
    spacing_s = check_number("spacing_s", QUICK_SPACING_S if spacing_s is None else spacing_s, minimum=0.0)
    probe = probe_seconds if probe is None else probe
    sleep = time.sleep if sleep is None else sleep
    reference = base.machine.get("speed_probe_s")
    if reference is None:
        raise must("base", "record its machine's speed probe (machine.speed_probe_s) to be rescaled",
                   "a calibration without one")
    times = []
    for i in range(probes):
        if i:
            sleep(spacing_s)
        times.append(float(probe()))
    here = usual_probe_seconds(times)
    factor = float(reference) / here
    scaled = base.with_device_speed(factor, label="speed factor")
    machine = describe_machine(threads=int(base.machine.get("threads", 1)), speed_probe_s=here)
    source = (f"Quick calibration: the device-side compute coefficients of the calibration measured on "
              f"{base.machine.get('cpu', 'an unnamed machine')} ({base.created}) rescaled by {factor:.4g} "
              f"(its speed probe {1e3 * float(reference):.3g} ms, this machine's median of {probes} "
              f"{1e3 * here:.3g} ms); everything else is that calibration's.")
    calibration = replace(scaled, machine=machine, source=source, validation=(),
                          created=datetime.date.today().isoformat(),
                          fit={name: value for name, value in scaled.fit.items() if name != "profile_wall_s"})
    report = {"factor": factor, "base_probe_s": float(reference), "probe": speed_distribution(times),
              "base_machine": base.machine.get("cpu")}
    return calibration, report
