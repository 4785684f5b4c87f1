"""Global and local imbalance: which samples of a dataset each client holds.

Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) is evaluated on data that is imbalanced
twice: *globally* (the class sizes summed over all clients differ) and *locally* (each client holds a
few dominant classes). This module builds both, reproducibly, from a dataset's labels.

Global imbalance (:func:`class_fractions`)
    Class ``k`` (its index is its rank: class 0 is the largest) gets a frequency proportional to

    * ``"none"``: 1 (the data as it is; generated sets are then balanced),
    * ``"long-tail"``: ``rho ** (k / (K - 1))`` (exponential decay),
    * ``"half-normal"``: ``rho ** ((k / (K - 1)) ** 2)``, i.e. a half-normal density
      ``exp(-k**2 / (2 s**2))`` over the class rank with its scale ``s = (K - 1) / sqrt(2 ln(1/rho))``
      chosen so that the rarest class has ``rho`` times the largest. This is how TPDS builds its
      imbalanced EMNIST; the paper gives no scale, so ``rho`` (``imbalance_ratio``) is the knob.

    Real data is subsampled per class to these frequencies (:func:`imbalanced_counts`, the largest
    subset that fits); generated data is generated with them. Every class that had a sample keeps at
    least one, so no class vanishes for the augmentation plan.

Local imbalance (``local_imbalance``)
    * ``"classes"`` (default, ``classes_per_client=2``): McMahan et al.'s "pathological non-IID"
      shards. Samples are sorted by label, each client's quota is cut into ``classes_per_client``
      shards, and the shards are laid along the sorted samples in random order; a client therefore
      sees about ``classes_per_client`` classes (one more where a shard straddles a class boundary,
      one fewer where two of its shards fall into the same class). The papers do not say how they
      made clients locally imbalanced; this is the standard choice of the FedAvg literature they
      compare against, and with the defaults the mean KL divergence of a client's label
      distribution from the uniform one is well above 0.5 nats (about ln(K/2)).
    * ``"dirichlet"`` (``dirichlet_alpha``): each client's label proportions are drawn from
      ``Dirichlet(alpha * K * q)``, ``q`` the global class frequencies, so ``alpha = 1`` on balanced
      data is the uniform distribution over the simplex and smaller ``alpha`` concentrates each
      client on fewer classes (Hsu et al., 2019). Clients are filled in random order and without
      replacement; a class that runs out is renormalised away. ``alpha = 2`` gives the TPDS paper's
      mean client KL to uniform of 0.550 nats on its EMNIST setup (47 classes, 500 clients of 225.6
      samples, long tail of ratio 0.09897), where two classes per client give 3.16
      (:mod:`reference_impl.studies.imbalance`).
    * ``"none"``: IID (a random split).

Client sizes (``size_skew``)
    ``0`` (equal: sizes differ by at most one) or ``sigma > 0`` (skewed): one sample each plus a
    share of the rest proportional to a lognormal(0, sigma) weight. Every client holds at least one
    sample.

The parameters are named as the run configuration (:class:`~reference_impl.config.RunConfig`) names
them. Everything is seeded: the same seed gives the same partition, and every sample is used at most
once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from costmodel.errors import InputError, check_int, check_number, must

__all__ = [
    "GLOBAL_IMBALANCE_KINDS",
    "LOCAL_IMBALANCE_KINDS",
    "Partition",
    "apportion",
    "check_choice",
    "class_fractions",
    "imbalanced_counts",
    "partition",
]

GLOBAL_IMBALANCE_KINDS: tuple[str, ...] = ("none", "long-tail", "half-normal")
LOCAL_IMBALANCE_KINDS: tuple[str, ...] = ("none", "classes", "dirichlet")


def check_choice(name: str, value: object, options: Sequence[str]) -> str:
    """``value`` if it is one of ``options``, else ``'name' must be one of 'a', 'b' (got value).``"""
    if not isinstance(value, str) or value not in options:
        listed = ", ".join(repr(o) for o in sorted(options))
        raise InputError(f"'{name}' must be one of {listed} (got {value!r}).")
    return value


def apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weights`` (largest-remainder method).

    The parts sum to ``total`` exactly; ties in the remainders go to the lower index.
    """
    weights = np.asarray(weights, dtype=np.float64)
    raw = total * weights / weights.sum()
    parts = np.floor(raw).astype(np.int64)
    short = int(total - parts.sum())
    if short > 0:
        order = np.argsort(-(raw - parts), kind="stable")
        parts[order[:short]] += 1
    return parts


def class_fractions(kind: str, num_classes: int, imbalance_ratio: float) -> np.ndarray:
    """Relative class frequencies of a global-imbalance shape; the largest (class 0) is 1.

    With ``r_k = k / (K - 1)`` the rank of class ``k`` scaled to [0, 1] and ``rho`` the imbalance ratio:
    ``"none"``: ``f_k = 1``; ``"long-tail"``: ``f_k = rho ** r_k``; ``"half-normal"``:
    ``f_k = rho ** (r_k ** 2) = exp(-k**2 / (2 s**2))`` with ``s = (K - 1) / sqrt(2 ln(1 / rho))``.
    In both imbalanced shapes the rarest class has ``rho`` times the samples of the largest.
    """
    kind = check_choice("global_imbalance", kind, GLOBAL_IMBALANCE_KINDS)
    k = check_int("num_classes", num_classes, minimum=1)
    rho = check_number("imbalance_ratio", imbalance_ratio, exclusive_minimum=0.0, maximum=1.0)
    if kind == "none" or k == 1:
        return np.ones(k)
    rank = np.arange(k) / (k - 1)
    exponent = rank if kind == "long-tail" else rank**2
    return rho**exponent


def imbalanced_counts(available: Sequence[int] | np.ndarray, fractions: Sequence[float] | np.ndarray) -> np.ndarray:
    """The largest per-class subsample of ``available`` whose sizes follow ``fractions``.

    ``n_k = max(1, floor(s * f_k))`` capped at ``available_k``, with the scale
    ``s = min_k available_k / f_k`` over the classes that have samples (classes with none stay empty).
    """
    available = np.asarray(available, dtype=np.int64)
    fractions = np.asarray(fractions, dtype=np.float64)
    if available.shape != fractions.shape:
        raise InputError(f"'fractions' must have one entry per class ({len(available)}) (got {len(fractions)}).")
    present = available > 0
    if not present.any():
        return np.zeros_like(available)
    scale = float(np.min(available[present] / fractions[present]))
    counts = np.floor(scale * fractions * (1 + 1e-12)).astype(np.int64)
    counts = np.minimum(np.maximum(counts, 1), available)
    return np.where(present, counts, 0)


@dataclass(frozen=True, eq=False, kw_only=True)
class Partition:
    """Which samples each client holds.

    Parameters
    ----------
    labels : numpy.ndarray
        Labels of the whole dataset the indices point into (stored read-only).
    client_indices : tuple of numpy.ndarray
        For each client, the int64 indices of its samples; no index appears twice.
    """

    labels: np.ndarray = field(repr=False)
    client_indices: tuple[np.ndarray, ...] = field(repr=False)

    def __post_init__(self) -> None:
        labels = np.asarray(self.labels).view()
        labels.setflags(write=False)
        object.__setattr__(self, "labels", labels)
        frozen = []
        for indices in self.client_indices:
            arr = np.asarray(indices, dtype=np.int64).view()
            arr.setflags(write=False)
            frozen.append(arr)
        object.__setattr__(self, "client_indices", tuple(frozen))
        if not frozen:
            raise must("client_indices", "hold at least one client", 0)
        used = np.concatenate(frozen)
        if len(used) and (used.min() < 0 or used.max() >= len(labels)):
            raise must("client_indices", f"lie in 0..{len(labels) - 1}", (int(used.min()), int(used.max())))
        if len(np.unique(used)) != len(used):
            raise InputError("'client_indices' must use every sample at most once (some index repeats).")

    @property
    def num_clients(self) -> int:
        return len(self.client_indices)

    @property
    def sizes(self) -> np.ndarray:
        """Samples per client, shape ``(num_clients,)``."""
        return np.array([len(i) for i in self.client_indices], dtype=np.int64)

    @property
    def num_samples(self) -> int:
        """Samples held by all clients together."""
        return int(self.sizes.sum())

    def label_histograms(self, num_classes: int) -> np.ndarray:
        """Per-client label counts, int64 array ``(num_clients, num_classes)``: what clients report."""
        k = check_int("num_classes", num_classes, minimum=1)
        sizes = self.sizes
        owner = np.repeat(np.arange(len(sizes)), sizes)
        labels = self.labels[np.concatenate(self.client_indices)].astype(np.int64)
        if len(labels) and labels.max() >= k:
            raise must("num_classes", f"exceed the largest label {int(labels.max())}", k)
        flat = np.bincount(owner * k + labels, minlength=len(sizes) * k)
        return flat.reshape(len(sizes), k).astype(np.int64)


def _client_sizes(total: int, clients: int, size_skew: float, rng: np.random.Generator) -> np.ndarray:
    """Equal sizes for ``size_skew == 0``, else one sample each plus lognormal(0, size_skew) shares."""
    if size_skew == 0:
        return apportion(total, np.ones(clients))
    weights = rng.lognormal(mean=0.0, sigma=size_skew, size=clients)
    return 1 + apportion(total - clients, weights)


def _dirichlet_counts(class_sizes: np.ndarray, client_sizes: np.ndarray, alpha: float,
                      rng: np.random.Generator) -> np.ndarray:
    """Count matrix (clients x classes): rows sum to ``client_sizes``, columns to ``class_sizes``."""
    k = len(class_sizes)
    present = class_sizes > 0
    prior = class_sizes / class_sizes.sum()
    proportions = np.zeros((len(client_sizes), k))
    proportions[:, present] = rng.dirichlet(alpha * k * prior[present], size=len(client_sizes))
    proportions = np.nan_to_num(proportions)
    remaining = class_sizes.astype(np.int64).copy()
    counts = np.zeros((len(client_sizes), k), dtype=np.int64)
    for client in rng.permutation(len(client_sizes)):
        need = int(client_sizes[client])
        row = counts[client]
        while need > 0:
            open_ = remaining - row > 0
            weights = proportions[client] * open_
            if weights.sum() <= 0:
                weights = open_.astype(np.float64)
            drawn = rng.multinomial(need, weights / weights.sum())
            taken = np.minimum(drawn, remaining - row)
            row += taken
            need -= int(taken.sum())
        remaining -= row
    return counts


def partition(labels: Sequence[int] | np.ndarray | torch.Tensor, *, clients: int,
              global_imbalance: str = "none", imbalance_ratio: float = 1.0,
              local_imbalance: str = "classes", classes_per_client: int = 2,
              dirichlet_alpha: float = 0.5, size_skew: float = 0.0,
              seed: int, num_classes: int | None = None) -> Partition:
    """Split a labelled dataset among clients, imbalanced globally and locally.

    Parameters
    ----------
    labels : array of int
        Labels of the dataset, ``0 .. K - 1``.
    clients : int
        Clients to create; each receives at least one sample.
    global_imbalance, imbalance_ratio : str, float
        Shape of the class frequencies and rarest/largest ratio rho in (0, 1]
        (:func:`class_fractions`); the dataset is subsampled per class to it (:func:`imbalanced_counts`).
    local_imbalance : {"classes", "dirichlet", "none"}
        How far each client's label distribution is from the global one (see the module docstring).
    classes_per_client : int
        Shards per client for ``"classes"``.
    dirichlet_alpha : float
        Concentration for ``"dirichlet"``: client proportions ~ ``Dirichlet(alpha * K * q)``.
    size_skew : float
        ``0`` for equal sizes, else sigma > 0: ``1 + share of (N - M)`` proportional to lognormal(0, sigma).
    seed : int
        Seeds everything random here.
    num_classes : int, optional
        K; default ``max(labels) + 1``.

    Returns
    -------
    Partition
        Client index arrays into ``labels``, each in random order.
    """
    if isinstance(labels, torch.Tensor):
        labels = labels.numpy()
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise must("labels", "be a one-dimensional array of integers", f"{labels.dtype} of shape {labels.shape}")
    labels = labels.astype(np.int64, copy=False)
    if len(labels) and labels.min() < 0:
        raise must("labels", "be >= 0", int(labels.min()))
    k = int(labels.max()) + 1 if num_classes is None and len(labels) else int(num_classes or 1)
    k = check_int("num_classes", k, minimum=1)
    if len(labels) and labels.max() >= k:
        raise must("num_classes", f"exceed the largest label {int(labels.max())}", k)
    clients = check_int("clients", clients, minimum=1)
    global_imbalance = check_choice("global_imbalance", global_imbalance, GLOBAL_IMBALANCE_KINDS)
    local_imbalance = check_choice("local_imbalance", local_imbalance, LOCAL_IMBALANCE_KINDS)
    classes_per_client = check_int("classes_per_client", classes_per_client, minimum=1, maximum=k)
    dirichlet_alpha = check_number("dirichlet_alpha", dirichlet_alpha, exclusive_minimum=0.0)
    size_skew = check_number("size_skew", size_skew, minimum=0.0)
    seed = check_int("seed", seed, minimum=0, maximum=2**32 - 1)
    fractions = class_fractions(global_imbalance, k, imbalance_ratio)
    rng = np.random.default_rng(seed)

    # Samples sorted by label, random within a class; keep each class's first class_sizes[k]
    # ("none" keeps the data as it is).
    pool = rng.permutation(len(labels))
    pool = pool[np.argsort(labels[pool], kind="stable")]
    available = np.bincount(labels, minlength=k)
    class_sizes = available if global_imbalance == "none" else imbalanced_counts(available, fractions)
    starts = np.concatenate(([0], np.cumsum(available)[:-1]))
    sorted_labels = labels[pool]
    rank_in_class = np.arange(len(pool)) - starts[sorted_labels]
    pool = pool[rank_in_class < class_sizes[sorted_labels]]
    total = len(pool)
    if total < clients:
        raise InputError(f"'clients' must be <= the {total} samples left after global imbalance "
                         f"(got {clients}).")

    sizes = _client_sizes(total, clients, size_skew, rng)
    if local_imbalance == "none":
        owner = rng.permutation(np.repeat(np.arange(clients), sizes))
    elif local_imbalance == "classes":
        # Client i's quota in classes_per_client near-equal shards (some empty if it is smaller).
        shard_sizes = (sizes // classes_per_client)[:, None] + (
            np.arange(classes_per_client)[None, :] < (sizes % classes_per_client)[:, None])
        shard_owner = np.repeat(np.arange(clients), classes_per_client)
        order = rng.permutation(clients * classes_per_client)
        owner = np.repeat(shard_owner[order], shard_sizes.ravel()[order])
    else:
        counts = _dirichlet_counts(class_sizes, sizes, dirichlet_alpha, rng)
        owner = np.repeat(np.tile(np.arange(clients), k), counts.T.ravel())

    # Random order within each client, then one index array per client.
    shuffle = rng.permutation(total)
    pool, owner = pool[shuffle], owner[shuffle]
    grouped = pool[np.argsort(owner, kind="stable")]
    return Partition(labels=labels, client_indices=tuple(np.split(grouped, np.cumsum(sizes)[:-1])))
