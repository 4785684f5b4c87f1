"""The machine this process runs on, as a calibration file names it (``machine.cpu``).

A calibration of the Astraea cost model (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) describes the
CPU it was measured on; its compute coefficients (FLOP/s, seconds per step, per value) hold for that
CPU. Commands compare it with :func:`cpu_name` of the machine they run on and say so in one line when
the two differ (:meth:`costmodel.contracts.calibration_file.Calibration.machine_problem`). Read from
``/proc/cpuinfo``; the installed torch version from the package metadata (:func:`torch_version`), also
without importing torch.
"""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path

__all__ = ["cpu_name", "torch_version"]


def cpu_name() -> str:
    """``"<model name> (<arch>, <n> cores)"`` from ``/proc/cpuinfo``, else ``platform.processor()``."""
    name = ""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    name = name or platform.processor() or "unknown CPU"
    return f"{name} ({platform.machine() or 'unknown arch'}, {os.cpu_count() or 0} cores)"


def torch_version() -> str | None:
    """The installed PyTorch's version string (e.g. ``"2.13.0+cpu"``), read from the package metadata
    without importing torch; ``None`` when torch is not installed (``predict`` runs without it)."""
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return None
