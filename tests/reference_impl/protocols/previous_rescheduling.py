"""The greedy mediator formation as reference_impl.protocols.rescheduling computed it before the sparse update.

Kept verbatim (its validation and result type aside) so that tests can check the current
implementation forms exactly the same mediators: per step it added every remaining client's gain
on the chosen client's classes, f_k = sum_y g(p_y + h_ky), over dense (classes x clients) blocks.
"""

from __future__ import annotations

import numpy as np
from scipy.special import xlogy

from reference_impl.protocols.rescheduling import TIE_TOLERANCE_NATS, _entropy

__all__ = ["previous_form_mediators"]

#: Largest class total for which n log n is looked up in a table rather than computed.
_TABLE_LIMIT = 1 << 22

#: Candidates updated per numpy call: keeps the (classes x chunk) temporaries in cache.
_SLOT_CHUNK = 1024

#: Use the per-step difference tables for whole-number counts (False: two table lookups per entry).
_DIFFERENCE_TABLES = True


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


def previous_form_mediators(histograms: object, *, gamma: int) -> list[list[int]]:
    """Mediators (client indices, in order of picking) as the earlier implementation formed them."""
    counts = np.asarray(histograms, dtype=np.float64)
    num_clients, num_classes = counts.shape

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
    for step in range(num_clients):
        remaining = num_clients - step
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

    return [m.tolist() for m in mediators]
