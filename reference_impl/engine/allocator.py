"""Keep freed memory in the process, so a phase's time does not depend on the allocator's history.

The reference implementation of Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) and FedAvg
allocates a fresh buffer for every model it encodes, decodes or averages. With glibc's defaults a
buffer above the (dynamic) mmap threshold is a fresh mapping whose first touch page-faults, and
whether a buffer of a given size is mapped or taken from the heap depends on what was freed before.
Measured on one thread (``reference_impl.engine.wire`` encode + decode of one model, 10 repetitions):

=============  ===============================  =================================
parameters     glibc defaults, ms (min..max)    freed memory kept, ms (min..max)
=============  ===============================  =================================
574,157        1.18 (0.64..2.15)                0.52 (0.51..1.50)
1,250,858      2.89 (1.18..4.19)                1.14 (1.09..3.15)
2,637,890      2.42 (2.27..6.66)                2.39 (2.15..2.76)
=============  ===============================  =================================

so the default's cost per byte was not a function of the size, which no cost model can predict.
:func:`keep_freed_memory` fixes glibc's mmap threshold at 1 GiB (32 MiB where glibc refuses more)
and its trim threshold at 1 GiB: large buffers come from the heap, and freed ones stay there for
the next, so after a warm-up every phase's time is a function of what it does. It is called when a
run's engine starts (every process of a distributed run too). A real server or device with
default allocator settings pays the page faults on top; docs/limits.md says so.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

__all__ = ["ALLOCATOR_SETTINGS", "keep_freed_memory"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_GIB = 1 << 30
_MMAP_FALLBACK = 32 << 20     # glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit
#: What :func:`keep_freed_memory` sets, as recorded in a run's summary.
ALLOCATOR_SETTINGS = "glibc mallopt: mmap threshold 1 GiB (or 32 MiB), trim threshold 1 GiB"


@functools.cache
def keep_freed_memory() -> str:
    """Set glibc's thresholds (see the module docstring) once per process; return what was set:
    :data:`ALLOCATOR_SETTINGS`, or why nothing was (not glibc)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return "allocator defaults (no glibc mallopt)"
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    if not mallopt(_M_MMAP_THRESHOLD, _GIB) and not mallopt(_M_MMAP_THRESHOLD, _MMAP_FALLBACK):
        return "allocator defaults (mallopt refused)"
    mallopt(_M_TRIM_THRESHOLD, _GIB)
    return ALLOCATOR_SETTINGS
