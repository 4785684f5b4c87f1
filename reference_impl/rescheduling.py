"""Astraea's mediator-based rescheduling: greedy mediator formation (setup step 4).

Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) groups the clients of a round into virtual
mediators of at most gamma clients whose pooled label distribution is as close to uniform as the
greedy rule finds; each mediator then trains its clients one after another. The rule: open a
mediator; while it has fewer than gamma clients and clients remain, add the remaining client k that
minimises KL(P_{m+k} || U), P_{m+k} being the pooled distribution of the mediator's counts plus k's
(pool the counts, then normalise), U uniform over the K classes; when full, open the next. The last
mediator may have fewer than gamma clients. An empty mediator takes first the client whose own
distribution is closest to uniform. The papers give the cost as O(c^2) in the clients per round.

Counting. Every greedy step scores every remaining client once: c + (c - 1) + ... + 1 = c(c + 1) / 2
KL evaluations for c clients, in c greedy steps. Those counts go to the trace (``steps`` column).

Computation. KL(P || U) = log K - H(P), so only the entropy of the pooled counts matters:
with S = sum_y n_y and f = sum_y n_y log n_y (0 log 0 = 0), H = log S - f / S. Each remaining client k
keeps f_k = sum_y g(p_y + h_ky), g(x) = x log x, for the current mediator's pooled counts p. Adding the
chosen client j changes p only on the classes where h_j > 0, so f_k is updated on those columns alone:
a few numpy expressions over (remaining x |supp h_j|) per step, O(remaining * K) at worst and much
less for the non-IID clients Astraea is made for, with no Python loop over candidates. Opening a
mediator resets f_k to sum_y g(h_ky). Whole-number counts look n log n up in a table (see ``_Gains``).

Choices where the papers are silent:

- Ties (scores within ``TIE_TOLERANCE_NATS``) go to the lowest client index.
- A client with no samples leaves any pooled distribution unchanged; on its own (empty mediator) its
  entropy is taken as 0, i.e. KL = log K, as far from uniform as a one-class client. ``kl_to_uniform``
  reports log K for an all-zero row likewise.
- The first selection is scored like every other (it costs c evaluations), as the rule states.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import xlogy

from costmodel.errors import check_int, must

__all__ = [
    "TIE_TOLERANCE_NATS",
    "MediatorAssignment",
    "form_mediators",
    "kl_to_uniform",
    "mean_kl_to_uniform",
]

#: Two candidates whose KL to uniform differ by less than this (nats) are tied.
TIE_TOLERANCE_NATS = 1e-12

#: Largest class total for which n log n is looked up in a table rather than computed.
_TABLE_LIMIT = 1 << 22

#: Candidates updated per numpy call: keeps the (classes x chunk) temporaries in cache.
_SLOT_CHUNK = 1024

#: Use the per-step difference tables for whole-number counts (False: two table lookups per entry).
_DIFFERENCE_TABLES = True


def _histograms(name: str, histograms: object) -> np.ndarray:
    counts = np.asarray(histograms, dtype=np.float64) if not isinstance(histograms, np.ndarray) \
        else histograms.astype(np.float64, copy=False)
    if counts.ndim != 2 or counts.shape[1] == 0:
        raise must(name, "be a 2-D array (clients x classes) with at least one class", counts.shape)
    if not np.all(np.isfinite(counts)):
        raise must(name, "hold finite counts", float(counts[~np.isfinite(counts)][0]))
    if np.any(counts < 0):
        raise must(name, "hold counts >= 0", float(counts[counts < 0][0]))
    return counts


def _entropy(sizes: np.ndarray, xlogx_sums: np.ndarray) -> np.ndarray:
    """H = log S - f / S from S = sum n and f = sum n log n; 0 where S = 0."""
    positive = sizes > 0
    safe = np.where(positive, sizes, 1.0)
    return np.where(positive, np.log(safe) - xlogx_sums / safe, 0.0)


def kl_to_uniform(histograms: object) -> np.ndarray:
    """KL(P_i || U) per row, P_i the row normalised: log K - H(P_i), in nats (log K for a zero row)."""
    counts = _histograms("histograms", histograms)
    entropy = _entropy(counts.sum(axis=1), xlogy(counts, counts).sum(axis=1))
    return np.maximum(np.log(counts.shape[1]) - entropy, 0.0)


def mean_kl_to_uniform(groups: Sequence[object]) -> float:
    """Mean over groups of KL(pooled group distribution || U), nats.

    Each group is the (members x K) histograms of its clients (or one pooled (K,) histogram); a
    group's counts are summed, then normalised. Every group weighs the same.
    """
    pooled = []
    for index, group in enumerate(groups):
        counts = np.asarray(group, dtype=np.float64)
        if counts.ndim == 2:
            counts = counts.sum(axis=0)
        if counts.ndim != 1:
            raise must(f"groups[{index}]", "be a (members x K) or (K,) histogram", counts.shape)
        pooled.append(counts)
    if not pooled:
        raise must("groups", "hold at least one group", [])
    if len({p.size for p in pooled}) != 1:
        raise must("groups", "all have the same number of classes", sorted({p.size for p in pooled}))
    return float(kl_to_uniform(np.stack(pooled)).mean())


@dataclass(frozen=True, kw_only=True, eq=False)
class MediatorAssignment:
    """The result of greedy mediator formation.

    Attributes
    ----------
    mediators : tuple[np.ndarray, ...]
        Client indices (rows of the input) of each mediator, in the order they were picked; this is
        also the order in which the mediator trains them.
    gamma : int
        The mediator size bound used.
    kl_evaluations : int
        KL scores computed, c (c + 1) / 2 for c clients.
    greedy_steps : int
        Clients placed, c.
    """

    mediators: tuple[np.ndarray, ...]
    gamma: int
    kl_evaluations: int
    greedy_steps: int

    @property
    def num_mediators(self) -> int:
        """ceil(c / gamma)."""
        return len(self.mediators)

    @property
    def num_clients(self) -> int:
        return sum(int(m.size) for m in self.mediators)

    def mediator_of(self) -> np.ndarray:
        """For each client (row), the index of its mediator."""
        owner = np.empty(self.num_clients, dtype=np.int64)
        for index, members in enumerate(self.mediators):
            owner[members] = index
        return owner

    def pooled_histograms(self, histograms: object) -> np.ndarray:
        """The mediators' pooled label counts, (mediators x K)."""
        counts = _histograms("histograms", histograms)
        if counts.shape[0] != self.num_clients:
            raise must("histograms", f"have one row per client ({self.num_clients})", counts.shape)
        return np.stack([counts[m].sum(axis=0) for m in self.mediators])


def _xlogx(values: np.ndarray) -> np.ndarray:
    """x log x elementwise for x >= 0, with 0 log 0 = 0 and no warning."""
    return values * np.log(np.where(values > 0, values, 1.0))


class _Gains:
    """Per-candidate change of f = sum_y g(p_y + h_ky) when the pooled counts p grow by ``added``.

    gain_k = sum_{y in support} g(p_y + added_y + h_ky) - g(p_y + h_ky), g(x) = x log x.
    Whole-number counts look g up in a table of n log n for n = 0..2 * max class total (twice: a
    masked-out slot of a client already in the mediator is still updated, then ignored, and may add
    its own counts twice); when the classes' count ranges are short enough, a per-step table
    d_y(h) = g(p_y + added_y + h) - g(p_y + h) replaces the two lookups per entry by one. Other counts
    use logarithms directly.
    """

    def __init__(self, counts: np.ndarray) -> None:
        self.table: np.ndarray | None = None
        whole = bool(np.all(counts == np.floor(counts)))
        limit = 2.0 * float(counts.sum(axis=0).max()) if counts.size else 0.0
        if whole and limit < _TABLE_LIMIT:
            values = np.arange(int(limit) + 1, dtype=np.float64)
            self.table = xlogy(values, values)
            self.counts_by_class = np.ascontiguousarray(counts.T.astype(np.int64))
            self.largest = self.counts_by_class.max(axis=1)
        else:
            self.counts_by_class = np.ascontiguousarray(counts.T)

    def add_to(self, f: np.ndarray, slot_counts: np.ndarray, support: np.ndarray, base: np.ndarray,
               added: np.ndarray) -> None:
        """f += gains, for every slot (column of ``slot_counts``), in cache-sized chunks."""
        rows = slice(None) if support.size == slot_counts.shape[0] else support
        width = slot_counts.shape[1]
        table = self.table
        if table is None:
            def gain(block: np.ndarray) -> np.ndarray:
                return (_xlogx(block + (base + added)[:, None]) - _xlogx(block + base[:, None])).sum(axis=0)
        else:
            lengths = self.largest[support] + 1
            if _DIFFERENCE_TABLES and int(lengths.sum()) <= width * support.size:
                offsets = np.cumsum(lengths) - lengths
                h = np.arange(int(lengths.sum())) - np.repeat(offsets, lengths)
                differences = (table.take(np.repeat(base + added, lengths) + h)
                               - table.take(np.repeat(base, lengths) + h))

                def gain(block: np.ndarray) -> np.ndarray:
                    return differences.take(block + offsets[:, None]).sum(axis=0)
            else:
                def gain(block: np.ndarray) -> np.ndarray:
                    index = block + (base + added)[:, None]
                    result = table.take(index)
                    index -= added[:, None]
                    result -= table.take(index)
                    return result.sum(axis=0)
        for start in range(0, width, _SLOT_CHUNK):
            stop = start + _SLOT_CHUNK
            f[start:stop] += gain(slot_counts[rows, start:stop])


def form_mediators(histograms: object, *, gamma: int) -> MediatorAssignment:
    """Group clients into mediators of at most gamma by the greedy KL-to-uniform rule.

    Parameters
    ----------
    histograms : array-like, shape (c, K)
        Label counts of the round's c clients (non-negative; fractional counts are accepted).
    gamma : int
        Maximum clients per mediator, >= 1.

    Returns
    -------
    MediatorAssignment
        ceil(c / gamma) mediators, c (c + 1) / 2 KL evaluations, c greedy steps.

    Notes
    -----
    Candidates live in "slots": client ids ascending (so the first maximum is the lowest index) and
    their counts stored class-major (a step reads the chosen client's support classes contiguously).
    A placed client's slot is masked out; the slots are compacted once a quarter of them are dead.
    Each step costs O(slots * |supp h_j|) for the update plus O(slots) for the scores.
    """
    gamma = check_int("gamma", gamma, minimum=1)
    counts = _histograms("histograms", histograms)
    num_clients, num_classes = counts.shape
    if num_clients == 0:
        raise must("histograms", "have at least one client (row)", counts.shape)

    gains = _Gains(counts)
    counts_by_class = gains.counts_by_class
    own_sizes = counts.sum(axis=1)
    own_xlogx = xlogy(counts, counts).sum(axis=1)

    ids = np.arange(num_clients)
    slot_counts = counts_by_class
    slot_sizes = own_sizes
    alive = np.ones(num_clients, dtype=bool)
    dead = 0
    f = own_xlogx.copy()       # f_k = sum_y g(p_y + h_ky) for the current mediator's pooled counts p
    pooled = np.zeros(num_classes, dtype=counts_by_class.dtype)
    pooled_size = 0.0

    mediators: list[np.ndarray] = []
    members: list[int] = []
    evaluations = 0
    for step in range(num_clients):
        remaining = num_clients - step
        evaluations += remaining
        entropy = _entropy(pooled_size + slot_sizes, f)
        entropy[~alive] = -np.inf
        position = int(np.argmax(entropy >= entropy.max() - TIE_TOLERANCE_NATS))
        chosen = int(ids[position])
        members.append(chosen)
        alive[position] = False
        dead += 1

        if len(members) == gamma or remaining == 1:
            mediators.append(np.array(members, dtype=np.int64))
            members = []
            pooled[:] = 0
            pooled_size = 0.0
            f = own_xlogx[ids]
        else:
            support = np.flatnonzero(counts_by_class[:, chosen])
            if support.size:
                added = counts_by_class[support, chosen]
                gains.add_to(f, slot_counts, support, pooled[support], added)
                pooled[support] += added
                pooled_size += float(own_sizes[chosen])

        if dead * 4 >= ids.size and remaining > 1:
            ids, slot_counts, slot_sizes, f = ids[alive], slot_counts[:, alive], slot_sizes[alive], f[alive]
            alive = np.ones(ids.size, dtype=bool)
            dead = 0

    for members_array in mediators:
        members_array.setflags(write=False)
    return MediatorAssignment(mediators=tuple(mediators), gamma=gamma, kl_evaluations=int(evaluations),
                              greedy_steps=num_clients)
