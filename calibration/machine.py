"""The description of the machine a calibration was measured on (the calibration file's ``machine``).

A calibration of the Astraea cost model (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) holds
for the machine and software it was measured with: CPU, torch threads per simulated device, the
torch version, Python and the operating system. The description is read without importing torch
(the version comes from the package metadata, or from the runs themselves, which record it).
"""

from __future__ import annotations

import math
import platform
from importlib import metadata

from costmodel.errors import check_int, check_number
from costmodel.host import cpu_name

__all__ = ["cpu_name", "describe_machine"]


def _torch_version() -> str:
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return "not installed"


def describe_machine(*, threads: int, torch_version: str | None = None,
                     speed_probe_s: float | None = None) -> dict[str, object]:
    """The ``machine`` object of a calibration file.

    Parameters
    ----------
    threads : int
        Torch intra-op threads per simulated device in the measured runs.
    torch_version : str, optional
        The version the runs recorded; default the installed one (read from package metadata).
    speed_probe_s : float, optional
        The machine's usual speed-probe time while the runs were measured
        (:func:`calibration.sweep.folder_probe_seconds`); recorded when given and finite, so a
        validation can hold its runs to the same speed.

    Returns
    -------
    dict
        ``cpu``, ``threads``, ``torch_version``, ``python``, ``platform`` (and ``speed_probe_s``).
    """
    described: dict[str, object] = {
        "cpu": cpu_name(),
        "threads": check_int("threads", threads, minimum=1),
        "torch_version": torch_version or _torch_version(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    if speed_probe_s is not None and math.isfinite(float(speed_probe_s)):
        described["speed_probe_s"] = check_number("speed_probe_s", speed_probe_s, exclusive_minimum=0.0)
    return described
