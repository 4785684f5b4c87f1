"""Astraea's mediator-based rescheduling (greedy mediator formation, step 4), and KL to uniform.

:func:`kl_to_uniform` is the project's one measure of how far a label distribution is from uniform:
the greedy rule below minimises it, the rounds report it (``mean_kl_clients``, ``mean_kl_groups``)
and the imbalance study measures it. An all-zero row (a client without samples) has KL = log K.

Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) groups the clients of a round into virtual
mediators of at most gamma clients whose pooled label distribution is as close to uniform as the
greedy rule finds; each mediator then trains its clients one after another. The rule: open a
mediator; while it has fewer than gamma clients and clients remain, add the remaining client k that
minimises KL(P_{m+k} || U), P_{m+k} being the pooled distribution of the mediator's counts plus k's
(pool the counts, then normalise), U uniform over the K classes; when full, open the next. The last
mediator may have fewer than gamma clients. An empty mediator takes first the client whose own
distribution is closest to uniform. The papers give the cost as O(c^2) in the clients per round.

Counting. Every greedy step scores every remaining client once: c + (c - 1) + ... + 1 = c(c + 1) / 2
KL evaluations for c clients, in c greedy steps. The work that depends on the data is counted too
(``class_updates`` and ``level_updates``, see below); the cost per call is about

    t0 + t_step * c + t_eval * c(c + 1)/2 + t_class * class_updates + t_level * level_updates.

Computation. KL(P || U) = log K - H(P), so only the entropy of the pooled counts matters: with
S = sum_y n_y and f = sum_y g(n_y), g(x) = x log x (0 log 0 = 0), H = log S - f / S. For the current
mediator's pooled counts p (size S_p, F_p = sum_y g(p_y)) each remaining client k keeps

    delta_k = sum_{y in supp h_k} g(p_y + h_ky) - g(p_y),    so that    f_k = F_p + delta_k,

and its score is H_k = log(S_p + n_k) - (F_p + delta_k) / (S_p + n_k): a few numpy expressions over
the remaining clients per step. Adding the chosen client j (counts a on supp a) to a mediator that
stays open moves p to p + a, and delta_k by sum_{y in supp h_k} D_y(h_ky) with

    D_y(v) = g(p_y + a_y + v) - g(p_y + v) - g(p_y + a_y) + g(p_y),    0 unless y in supp a.

Each class's distinct non-zero counts (at most L of them) are its "levels"; D is built for supp a's
classes at every level (|supp a| * L entries: ``level_updates``), and every candidate's update is one
sparse matrix-vector product: a 0/1 matrix with a row per candidate and a 1 at each of its (class,
level) pairs, times D. A step thus reads each remaining candidate's |supp h_k| entries once;
``class_updates`` sums those reads over the steps that update (every step but the last of each
mediator): K_c * c(c - ceil(c / gamma)) / 2 for clients of K_c classes each. Opening a mediator
resets delta_k to sum_y g(h_ky). Whole-number counts look n log n up in a table of
0..max_y min(class total + largest count, gamma * largest count), the largest argument g can get
(``_pooled_bound``).

Choices where the papers are silent:

- Ties (scores within ``TIE_TOLERANCE_NATS``) go to the lowest client index.
- A client with no samples leaves any pooled distribution unchanged; on its own (empty mediator) its
  entropy is taken as 0, i.e. KL = log K, as far from uniform as a one-class client. ``kl_to_uniform``
  reports log K for an all-zero row likewise.
- The first selection is scored like every other (it counts c evaluations), as the rule states.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
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

#: Largest pooled class count for which n log n is looked up in a table rather than computed.
_TABLE_LIMIT = 1 << 22

#: Placed clients are dropped from the candidate arrays once they are this share of them and at least
#: ``_COMPACT_MIN`` (dropping them costs about as much as scoring a few thousand dead slots).
_COMPACT_SHARE = 0.1
_COMPACT_MIN = 64


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
    """KL(P_i || U) per row, P_i the row normalised: log K - H(P_i), in nats.

    ``KL = sum_y p_y ln(K p_y)`` with ``0 ln 0 = 0``. An all-zero row (no samples) has entropy 0 and
    so KL = log K, as far from uniform as a one-class row: the greedy rescheduling scores an empty
    client the same way.
    """
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
    class_updates : int
        Entries the incremental update read: over the steps that add a client with samples to a
        mediator that stays open (c - ceil(c / gamma) steps when no client is empty), the sum of
        the remaining clients' support sizes |supp h_k| (classes with a non-zero count):
        K_c * c * (c - ceil(c / gamma)) / 2 when every client holds K_c classes and gamma divides c.
    level_updates : int
        Entries of D built over the same steps: |supp h_j| * L for the chosen client j, L the
        largest number of distinct non-zero counts a class takes among the c clients.
    """

    mediators: tuple[np.ndarray, ...]
    gamma: int
    kl_evaluations: int
    greedy_steps: int
    class_updates: int
    level_updates: int

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


class _Candidates:
    """The clients still to place, as "slots" in ascending client order, and their update matrix.

    ``counts_by_rank`` (K x L) lists each class's levels (distinct non-zero counts) in ascending
    order, padded with 0; ``pairs`` (slots x K*L) holds a 1 at ``y * L + rank`` for each class y a
    slot's client holds, the rank being that of its count of y among y's levels.
    """

    def __init__(self, counts: np.ndarray) -> None:
        num_clients, num_classes = counts.shape
        clients, classes = np.nonzero(counts)                 # by client, then class
        values = counts[clients, classes]
        order = np.lexsort((values, classes))                 # by class, then count
        starts = np.ones(order.size, dtype=bool)
        starts[1:] = (np.diff(classes[order]) != 0) | (np.diff(values[order]) != 0)
        pair = np.cumsum(starts) - 1                          # distinct (class, count), in order
        pair_class = classes[order][starts]
        first = np.searchsorted(pair_class, np.arange(num_classes))
        rank = np.arange(pair_class.size) - first[pair_class]
        width = int(rank.max()) + 1 if rank.size else 1
        self.counts_by_rank = np.zeros((num_classes, width), dtype=counts.dtype)
        self.counts_by_rank[pair_class, rank] = values[order][starts]
        column = np.empty(order.size, dtype=np.int64)
        column[order] = (pair_class * width + rank)[pair]
        row_starts = np.concatenate(([0], np.cumsum(np.bincount(clients, minlength=num_clients))))
        index = np.int32 if max(order.size, num_classes * width) < np.iinfo(np.int32).max else np.int64
        self.pairs = sparse.csr_array((np.ones(order.size), column.astype(index), row_starts.astype(index)),
                                      shape=(num_clients, num_classes * width))
        self.support_sizes = np.diff(row_starts)
        self.ids = np.arange(num_clients)

    def keep(self, alive: np.ndarray) -> np.ndarray:
        """Drop the slots not ``alive``; return the kept slots' old positions."""
        kept = np.flatnonzero(alive)
        self.pairs = self.pairs[kept]
        self.ids = self.ids[kept]
        return kept


def _pooled_bound(counts: np.ndarray, gamma: int) -> float:
    """Largest argument of g in a step: a class's pooled count (at most gamma - 1 clients') plus any
    client's count of it (D is built for every count that occurs, a member's own included), i.e.
    max_y min(class total + largest count, gamma * largest count)."""
    if counts.size == 0:
        return 0.0
    largest = counts.max(axis=0)
    return float(np.minimum(counts.sum(axis=0) + largest, gamma * largest).max())


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
        ceil(c / gamma) mediators, c (c + 1) / 2 KL evaluations, c greedy steps, and the class
        and level updates the data needed.

    Notes
    -----
    Each step costs O(slots) for the scores, plus, when the mediator stays open, one sparse
    product over the slots' (class, level) pairs (sum of |supp h_k|) and |supp a| * L entries to
    build D. Placed clients stay in the slots (scored -inf) until they are ``_COMPACT_SHARE`` of
    them and at least ``_COMPACT_MIN``.
    """
    gamma = check_int("gamma", gamma, minimum=1)
    counts = _histograms("histograms", histograms)
    num_clients, num_classes = counts.shape
    if num_clients == 0:
        raise must("histograms", "have at least one client (row)", counts.shape)

    own_sizes = counts.sum(axis=1)
    own_xlogx = xlogy(counts, counts).sum(axis=1)
    own_entropy = _entropy(own_sizes, own_xlogx)
    bound = _pooled_bound(counts, gamma)
    if bound < _TABLE_LIMIT and np.all(counts == np.floor(counts)):
        values = np.arange(int(bound) + 1, dtype=np.float64)
        g = xlogy(values, values).take          # g(x) = x log x for whole x, by table
        counts = counts.astype(np.int64)
    else:
        def g(x: np.ndarray) -> np.ndarray:
            return xlogy(x, x)

    slots = _Candidates(counts)
    d = np.zeros(slots.counts_by_rank.shape)    # D_y(count of rank r) at [y, r]; 0 between steps
    sizes, base, entropy = own_sizes, own_xlogx, own_entropy.copy()
    delta = base.copy()                        # delta_k = f_k - F_p; +inf once placed
    alive = np.ones(num_clients, dtype=bool)
    dead = 0
    alive_entries = int(slots.support_sizes.sum())
    pooled = np.zeros(num_classes, dtype=counts.dtype)
    pooled_size, pooled_xlogx = 0.0, 0.0

    mediators: list[np.ndarray] = []
    members: list[int] = []
    class_updates = level_updates = 0
    levels = slots.counts_by_rank.shape[1]
    for step in range(num_clients):
        remaining = num_clients - step
        if pooled_size > 0:
            total = sizes + pooled_size
            scores = (delta + pooled_xlogx) / total
            np.subtract(np.log(total), scores, out=scores)
        else:                                   # nothing pooled yet: the clients' own entropies
            scores = entropy
        position = int(scores.argmax())
        if position and scores[position] - TIE_TOLERANCE_NATS <= scores[:position].max():
            position = int(np.argmax(scores[:position] >= scores[position] - TIE_TOLERANCE_NATS))
        chosen = int(slots.ids[position])
        members.append(chosen)
        alive[position] = False
        dead += 1
        entropy[position] = -np.inf
        delta[position] = np.inf
        alive_entries -= int(slots.support_sizes[chosen])

        if len(members) == gamma or remaining == 1:
            mediators.append(np.array(members, dtype=np.int64))
            members = []
            pooled[:] = 0
            pooled_size, pooled_xlogx = 0.0, 0.0
            delta = np.where(alive, base, np.inf)
        else:
            added = counts[chosen]
            support = np.flatnonzero(added)
            if support.size:
                old = pooled[support]
                new = old + added[support]
                every_class = support.size == num_classes
                by_rank = slots.counts_by_rank if every_class else slots.counts_by_rank[support]
                change = g(by_rank + new[:, None])
                change -= g(by_rank + old[:, None])
                change -= (g(new) - g(old))[:, None]
                if every_class:
                    delta += slots.pairs @ change.ravel()
                else:
                    d[support] = change
                    delta += slots.pairs @ d.ravel()
                    d[support] = 0.0
                pooled[support] = new
                pooled_size += float(own_sizes[chosen])
                pooled_xlogx = float(g(pooled).sum())
                class_updates += alive_entries
                level_updates += support.size * levels

        if dead >= max(_COMPACT_SHARE * alive.size, _COMPACT_MIN) and remaining > 1:
            kept = slots.keep(alive)
            sizes, base, entropy, delta = sizes[kept], base[kept], entropy[kept], delta[kept]
            alive = np.ones(kept.size, dtype=bool)
            dead = 0

    for members_array in mediators:
        members_array.setflags(write=False)
    return MediatorAssignment(mediators=tuple(mediators), gamma=gamma,
                              kl_evaluations=num_clients * (num_clients + 1) // 2, greedy_steps=num_clients,
                              class_updates=class_updates, level_updates=level_updates)
