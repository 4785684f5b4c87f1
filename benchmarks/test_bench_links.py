"""How long a lab takes to build and tear down, and how long the communication fit takes.

Run with ``.venv/bin/python -m pytest benchmarks/test_bench_links.py --benchmark-enable``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from calibration.communication import fit_communication
from reference_impl.network.lab import emulated_network
from reference_impl.network.links import LinkSpec
from reference_impl.network.namespaces import netlab_available

AVAILABLE, WHY = netlab_available()


def _transfers(repeats: int) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = []
    for rate in (2e6, 8e6, 32e6):
        for size in (65_536, 262_144, 1_048_576):
            for repeat in range(repeats):
                t = (0.001 + 8 * (size + 100) / (0.956 * rate)) * (1 + 0.003 * rng.standard_normal())
                rows.append((rate, size, t, repeat))
    return pd.DataFrame(rows, columns=["rate_bits_per_s", "payload_bytes", "seconds", "repeat"])


def test_bench_fit_communication(benchmark):
    frame = _transfers(repeats=5)
    fit = benchmark(fit_communication, frame)
    assert fit.link_efficiency == pytest.approx(0.956, rel=0.01)


@pytest.mark.root
@pytest.mark.skipif(not AVAILABLE, reason=f"needs root and ip netns: {WHY}")
@pytest.mark.parametrize("hosts", [2, 50])
def test_bench_lab_build_and_teardown(benchmark, hosts):
    link = LinkSpec(uplink_bits_per_s=8e6, downlink_bits_per_s=32e6)

    def build_and_teardown() -> int:
        with emulated_network(hosts, [link], prefix="acb") as lab:
            return len(lab.namespaces)

    namespaces = benchmark.pedantic(build_and_teardown, rounds=3, iterations=1)
    assert namespaces == hosts + 2
