"""The allocator setting of every run: set once, recorded in the run's summary."""

from __future__ import annotations

import platform

import pytest

from reference_impl.config import RunConfig
from reference_impl.engine.allocator import ALLOCATOR_SETTINGS, keep_freed_memory
from reference_impl.engine.drive import run


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_glibc_keeps_freed_memory_and_every_run_records_it():
    assert keep_freed_memory() == ALLOCATOR_SETTINGS
    assert keep_freed_memory() == ALLOCATOR_SETTINGS          # idempotent
    config = RunConfig(algorithm="fedavg", dataset="digits", model="scaled", model_width=0.25, clients=4,
                       clients_per_round=2, rounds=1, batch_size=32, evaluate=False, threads=1)
    assert run(config, progress=False).summary["allocator"] == ALLOCATOR_SETTINGS
