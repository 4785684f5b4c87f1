"""Monte Carlo of a heterogeneous round: the protocol simulated over the federation's distributions.

The closed form (:mod:`costmodel.model.heterogeneity`) approximates the slowest branch of a round
of FedAvg (McMahan et al., AISTATS 2017) or Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1),
2021); this module draws it. One draw is one round: ``c`` clients, each with its speed and link
rates drawn from the :class:`~costmodel.model.federation.Federation` (or ``c`` rows of its client
table drawn without replacement); a client's visit is ``a + C*X + D*Yd + U*Yu``
(:class:`~costmodel.model.heterogeneity.VisitParts`, numbers); FedAvg waits for the largest of the
``c`` visits; Astraea puts the clients, in their random order, into mediators of ``gamma``
consecutive ones (the last holds the remainder: the greedy rescheduling groups by labels, not by
speed) and waits for the largest mediator sum, ``E_m`` times. Vectorized numpy in chunks of at
most :data:`CHUNK_VALUES` visits, seeded (:func:`numpy.random.default_rng`), so a seed gives the
same answer on every machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from costmodel.errors import check_int
from costmodel.model.federation import Federation

__all__ = ["CHUNK_VALUES", "BranchSample", "VisitNumbers", "sample_branch_max"]

#: Visits drawn at once (memory: 8 bytes each, a few arrays of this size).
CHUNK_VALUES = 1 << 22


@dataclass(frozen=True, kw_only=True)
class VisitNumbers:
    """One visit at the median client and the round's shape, as numbers (seconds; counts).

    ``wire_down_of`` and ``wire_up_of`` price a client table's rates: the wire term at a given
    rate (the model's own expression, the server link's share included).
    """

    fixed: float
    compute: float
    wire_down: float
    wire_up: float
    clients: int
    per_branch: int
    passes: int
    wire_down_of: object = None
    wire_up_of: object = None

    @property
    def visit(self) -> float:
        """The homogeneous visit ``a + C + D + U``."""
        return self.fixed + self.compute + self.wire_down + self.wire_up


@dataclass(frozen=True)
class BranchSample:
    """Monte Carlo of the slowest branch: its mean, standard error, 95% quantile, and the draws."""

    mean: float
    stderr: float
    q95: float
    draws: int


def _factors(rng: np.random.Generator, shape: tuple[int, int], sigma: float,
             classes: tuple[tuple[float, float], ...]) -> np.ndarray:
    """Slowness ``1/f * e^{sigma*Z}`` (f a class factor drawn with its share); ones without spread."""
    out = np.ones(shape)
    if classes:
        factors = np.array([f for f, _ in classes])
        shares = np.array([w for _, w in classes])
        out = 1.0 / factors[rng.choice(factors.size, size=shape, p=shares / shares.sum())]
    if sigma:
        out = out * np.exp(sigma * rng.standard_normal(shape))
    return out


def _visits(rng: np.random.Generator, draws: int, v: VisitNumbers, federation: Federation) -> np.ndarray:
    c = v.clients
    table = federation.clients
    if table is not None:
        order = rng.permuted(np.broadcast_to(np.arange(table.size), (draws, table.size)), axis=1)[:, :c]
        compute = v.compute / table.speed_factor
        down = np.asarray(v.wire_down_of(table.downlink_bits_per_s), dtype=np.float64)  # type: ignore[misc]
        up = np.asarray(v.wire_up_of(table.uplink_bits_per_s), dtype=np.float64)  # type: ignore[misc]
        per_row = v.fixed + compute + np.broadcast_to(down, compute.shape) + np.broadcast_to(up, compute.shape)
        return per_row[order]
    shape = (draws, c)
    visits = v.fixed + v.compute * _factors(rng, shape, federation.speed_sigma, federation.speed_classes)
    if federation.link_classes:
        link = _factors(rng, shape, 0.0, federation.link_classes)
        down = link * (np.exp(federation.link_sigma * rng.standard_normal(shape)) if federation.link_sigma else 1.0)
        up = link * (np.exp(federation.link_sigma * rng.standard_normal(shape)) if federation.link_sigma else 1.0)
    else:
        down = _factors(rng, shape, federation.link_sigma, ())
        up = _factors(rng, shape, federation.link_sigma, ())
    return visits + v.wire_down * down + v.wire_up * up


def _branch_max(visits: np.ndarray, per_branch: int) -> np.ndarray:
    if per_branch == 1:
        return visits.max(axis=1)
    draws, c = visits.shape
    full = c // per_branch
    sums = visits[:, :full * per_branch].reshape(draws, full, per_branch).sum(axis=2).max(axis=1)
    if c % per_branch:
        sums = np.maximum(sums, visits[:, full * per_branch:].sum(axis=1))
    return sums


def sample_branch_max(v: VisitNumbers, federation: Federation, draws: int, *, seed: int = 0) -> BranchSample:
    """Draw ``draws`` rounds and return the slowest branch's statistics (seconds, one pass).

    A branch is one client's visit (``per_branch = 1``, FedAvg) or the sum of a mediator's
    ``per_branch`` consecutive clients (Astraea; the last mediator holds the remainder).
    """
    draws = check_int("monte_carlo", draws, minimum=2, maximum=10**8)
    rng = np.random.default_rng(seed)
    per_chunk = max(1, CHUNK_VALUES // max(v.clients, 1))
    results = []
    done = 0
    while done < draws:
        n = min(per_chunk, draws - done)
        results.append(_branch_max(_visits(rng, n, v, federation), v.per_branch))
        done += n
    sample = np.concatenate(results)
    return BranchSample(mean=float(sample.mean()), stderr=float(sample.std(ddof=1) / math.sqrt(draws)),
                        q95=float(np.quantile(sample, 0.95)), draws=draws)
