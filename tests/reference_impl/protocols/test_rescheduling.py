"""Greedy mediator formation (Astraea step 4): hand-worked cases, counts, and two oracles.

The oracles: ``brute_force`` applies the rule one candidate at a time from the definition of KL;
``from_scratch`` scores every remaining candidate anew at every step (numpy, no incremental state).
``previous_form_mediators`` is the implementation before the sparse update, kept to show that the
assignment did not change.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from previous_rescheduling import previous_form_mediators
from scipy.special import xlogy

from costmodel.errors import InputError
from reference_impl.data.partition import partition
from reference_impl.protocols import rescheduling
from reference_impl.protocols.rescheduling import (
    TIE_TOLERANCE_NATS,
    MediatorAssignment,
    form_mediators,
    kl_to_uniform,
    mean_kl_to_uniform,
)

# Four clients, two classes. Worked by hand, KL(P || U) = log 2 - H(P), in nats:
#   alone: c0 (4,0) -> log 2 = 0.693;  c1 (3,1) -> 0.131;  c2 (0,2) -> 0.693;  c3 (1,1) -> 0.
#   step 1 (empty mediator): pick c3.
#   step 2, pooled (1,1) plus: c0 -> (5,1) 0.243;  c1 -> (4,2) 0.057;  c2 -> (1,3) 0.131: pick c1.
#   gamma = 2: mediator 0 = [3, 1] is full. Mediator 1 alone: c0 and c2 both log 2, a tie: pick c0, then c2.
#   gamma = 3, step 3, pooled (4,2) plus: c0 -> (8,2) 0.193;  c2 -> (4,4) 0: pick c2; mediator 1 = [0].
HAND = np.array([[4, 0], [3, 1], [0, 2], [1, 1]])


def brute_force(histograms: np.ndarray, gamma: int) -> list[list[int]]:
    """The rule as written, one candidate at a time, from the definition of KL."""
    counts = np.asarray(histograms, dtype=float)
    k = counts.shape[1]
    remaining = list(range(counts.shape[0]))
    mediators = []
    while remaining:
        members: list[int] = []
        pooled = np.zeros(k)
        while remaining and len(members) < gamma:
            scores = []
            for client in remaining:
                total = pooled + counts[client]
                p = total / total.sum() if total.sum() > 0 else None
                kl = math.log(k) if p is None else sum(q * math.log(q * k) for q in p if q > 0)
                scores.append(kl)
            best = min(scores)
            pick = next(i for i, s in enumerate(scores) if s <= best + 1e-12)
            client = remaining.pop(pick)
            members.append(client)
            pooled += counts[client]
        mediators.append(members)
    return mediators


def from_scratch(histograms: np.ndarray, gamma: int) -> list[list[int]]:
    """The rule with every remaining candidate scored anew at every step: H(p + h_k), ties to the lowest index."""
    counts = np.asarray(histograms, dtype=float)
    remaining = np.arange(counts.shape[0])
    mediators = []
    while remaining.size:
        members: list[int] = []
        pooled = np.zeros(counts.shape[1])
        while remaining.size and len(members) < gamma:
            total = pooled + counts[remaining]
            sizes = total.sum(axis=1)
            safe = np.where(sizes > 0, sizes, 1.0)
            entropy = np.where(sizes > 0, np.log(safe) - xlogy(total, total).sum(axis=1) / safe, 0.0)
            pick = int(np.flatnonzero(entropy >= entropy.max() - TIE_TOLERANCE_NATS)[0])
            members.append(int(remaining[pick]))
            pooled += counts[remaining[pick]]
            remaining = np.delete(remaining, pick)
        mediators.append(members)
    return mediators


def as_lists(assignment: MediatorAssignment) -> list[list[int]]:
    return [m.tolist() for m in assignment.mediators]


def updates_by_hand(histograms: np.ndarray, mediators: list[list[int]], gamma: int) -> tuple[int, int]:
    """Over the picks that leave their mediator open and add samples: the unplaced clients' supports
    (class updates), and the pick's support times the most distinct counts of a class (level updates)."""
    counts = np.asarray(histograms)
    support = (counts > 0).sum(axis=1)
    levels = max([np.unique(column[column > 0]).size for column in counts.T] + [1])
    order = [client for members in mediators for client in members]
    classes = levels_total = 0
    for step, client in enumerate(order):
        closes = (step + 1) % gamma == 0 or step + 1 == len(order)
        if not closes and support[client] > 0:
            classes += int(support[order[step + 1:]].sum())
            levels_total += int(support[client]) * levels
    return classes, levels_total


def test_hand_worked_example_gamma_2() -> None:
    assignment = form_mediators(HAND, gamma=2)
    assert as_lists(assignment) == [[3, 1], [0, 2]]
    assert assignment.kl_evaluations == 4 + 3 + 2 + 1
    assert assignment.greedy_steps == 4
    assert assignment.num_mediators == 2
    # Supports: c0 1, c1 2, c2 1, c3 2. Picking c3 leaves its mediator open: c0, c1, c2 are updated
    # (1 + 2 + 1); c1 closes it; c0 opens the next and c2 is updated (1); c2 closes it.
    assert assignment.class_updates == 4 + 1
    # Class 0 takes the counts 4, 3, 1 and class 1 the counts 1, 2: L = 3 levels. D is built for
    # c3's two classes, then for c0's one.
    assert assignment.level_updates == 2 * 3 + 1 * 3


def test_hand_worked_example_gamma_3_fills_with_the_balancing_client() -> None:
    assignment = form_mediators(HAND, gamma=3)
    assert as_lists(assignment) == [[3, 1, 2], [0]]
    # c3 -> update c0, c1, c2 (4); c1 -> update c0, c2 (2); c2 closes; c0 is the last client.
    assert assignment.class_updates == 4 + 2


def test_hand_worked_kl_values() -> None:
    kl = kl_to_uniform(HAND)
    h31 = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    np.testing.assert_allclose(kl, [math.log(2), math.log(2) - h31, math.log(2), 0.0], atol=1e-15)


@pytest.mark.parametrize(("clients", "gamma"), [(1, 1), (7, 3), (50, 10), (101, 4), (300, 1)])
def test_kl_evaluations_are_c_times_c_plus_1_over_2(clients: int, gamma: int) -> None:
    rng = np.random.default_rng(clients)
    assignment = form_mediators(rng.integers(0, 20, (clients, 5)), gamma=gamma)
    assert assignment.kl_evaluations == clients * (clients + 1) // 2
    assert assignment.greedy_steps == clients


@pytest.mark.parametrize(("clients", "gamma"), [(1, 1), (7, 3), (50, 10), (101, 4), (300, 1), (12, 12)])
def test_class_updates_of_full_support_clients_follow_the_formula(clients: int, gamma: int) -> None:
    # Every client holds all K = 5 classes: each pick t = 1..c that leaves its mediator open
    # (t not a multiple of gamma, t < c) updates the c - t unplaced clients' 5 classes.
    histograms = np.random.default_rng(clients).integers(1, 20, (clients, 5))
    expected = 5 * sum(clients - t for t in range(1, clients) if t % gamma)
    assert form_mediators(histograms, gamma=gamma).class_updates == expected


@pytest.mark.parametrize("seed", range(6))
def test_updates_count_the_unplaced_supports_and_the_levels(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    histograms = rng.integers(0, 9, (60, 8)) * (rng.random((60, 8)) < 0.3)
    histograms[rng.random(60) < 0.1] = 0          # some clients without samples
    gamma = int(rng.integers(2, 9))
    assignment = form_mediators(histograms, gamma=gamma)
    expected = updates_by_hand(histograms, as_lists(assignment), gamma)
    assert (assignment.class_updates, assignment.level_updates) == expected


@pytest.mark.parametrize("gamma", [9, 10, 1000])
def test_gamma_at_least_c_gives_one_mediator(gamma: int) -> None:
    histograms = np.random.default_rng(1).integers(0, 30, (9, 4))
    assignment = form_mediators(histograms, gamma=gamma)
    assert assignment.num_mediators == 1
    assert sorted(assignment.mediators[0].tolist()) == list(range(9))


def test_every_client_assigned_exactly_once_and_sizes_are_gamma_but_the_last() -> None:
    histograms = np.random.default_rng(2).integers(0, 50, (53, 10))
    assignment = form_mediators(histograms, gamma=10)
    everyone = np.concatenate(assignment.mediators)
    assert sorted(everyone.tolist()) == list(range(53))
    assert [m.size for m in assignment.mediators] == [10, 10, 10, 10, 10, 3]
    owner = assignment.mediator_of()
    for index, members in enumerate(assignment.mediators):
        assert np.all(owner[members] == index)
    np.testing.assert_array_equal(assignment.pooled_histograms(histograms).sum(axis=0), histograms.sum(axis=0))


def non_iid(rng: np.random.Generator, clients: int, classes: int) -> np.ndarray:
    """Each client holds one or two classes, 10..100 samples of each."""
    histograms = np.zeros((clients, classes), dtype=np.int64)
    for client in range(clients):
        held = rng.choice(classes, size=rng.integers(1, 3), replace=False)
        histograms[client, held] = rng.integers(10, 101, size=held.size)
    return histograms


def test_mediators_are_closer_to_uniform_than_clients() -> None:
    histograms = non_iid(np.random.default_rng(3), 200, 10)
    assignment = form_mediators(histograms, gamma=10)
    client_mean = float(kl_to_uniform(histograms).mean())
    mediator_mean = mean_kl_to_uniform([histograms[m] for m in assignment.mediators])
    assert mediator_mean < 0.5 * client_mean
    # ... and closer than mediators of consecutive clients (no rescheduling).
    naive = mean_kl_to_uniform([histograms[i:i + 10] for i in range(0, 200, 10)])
    assert mediator_mean < naive


@pytest.mark.parametrize("seed", range(8))
def test_matches_the_rule_applied_one_candidate_at_a_time(seed: int) -> None:
    rng = np.random.default_rng(seed)
    clients, classes, gamma = int(rng.integers(1, 40)), int(rng.integers(1, 8)), int(rng.integers(1, 8))
    histograms = rng.integers(0, 6, (clients, classes)) * (rng.random((clients, classes)) < 0.5)
    assert as_lists(form_mediators(histograms, gamma=gamma)) == brute_force(histograms, gamma)


def random_histograms(rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """A round of clients with the hard cases mixed in: ties, empty clients, c < gamma, gamma = 1."""
    clients, classes = int(rng.integers(1, 70)), int(rng.integers(1, 9))
    kind = int(rng.integers(0, 5))
    if kind == 0:      # sparse small counts: many exact ties
        histograms = rng.integers(0, 4, (clients, classes)) * (rng.random((clients, classes)) < 0.4)
    elif kind == 1:    # duplicated rows and class-permuted copies: ties by construction
        rows = rng.integers(0, 6, (max(1, clients // 3), classes))
        histograms = rows[rng.integers(0, rows.shape[0], clients)]
        flip = rng.random(clients) < 0.5
        histograms[flip] = histograms[flip][:, ::-1]
    elif kind == 2:    # two-class clients of equal shards, as the "classes" partition makes them
        histograms = np.zeros((clients, classes), dtype=np.int64)
        for row in histograms:
            row[rng.choice(classes, size=min(2, classes), replace=False)] = 5
    elif kind == 3:    # fractional counts
        histograms = rng.random((clients, classes)) * (rng.random((clients, classes)) < 0.6) * 10
    else:              # large whole counts
        histograms = rng.integers(0, 5000, (clients, classes)) * (rng.random((clients, classes)) < 0.5)
    histograms[rng.random(clients) < 0.15] = 0
    gamma = int(rng.choice([1, 2, 3, 5, 10, 100]))
    return histograms, gamma


@pytest.mark.parametrize("seed", range(150))
def test_matches_the_rule_scored_from_scratch(seed: int) -> None:
    histograms, gamma = random_histograms(np.random.default_rng(1000 + seed))
    assert as_lists(form_mediators(histograms, gamma=gamma)) == from_scratch(histograms, gamma)


@pytest.mark.parametrize(("table_limit", "compact_share", "compact_min"), [
    (1 << 22, 0.1, 64),    # n log n table, drop placed clients at 10% (and 64)
    (1, 0.1, 64),          # no table: logarithms
    (1 << 22, 1e-9, 1),    # drop placed clients after every pick
    (1 << 22, 0.2, 3),     # drop them now and then
    (1 << 22, 2.0, 64),    # never drop them
])
def test_every_path_matches_the_rule(monkeypatch: pytest.MonkeyPatch, table_limit: int, compact_share: float,
                                     compact_min: int) -> None:
    monkeypatch.setattr(rescheduling, "_TABLE_LIMIT", table_limit)
    monkeypatch.setattr(rescheduling, "_COMPACT_SHARE", compact_share)
    monkeypatch.setattr(rescheduling, "_COMPACT_MIN", compact_min)
    rng = np.random.default_rng(12)
    for _ in range(20):
        histograms, gamma = random_histograms(rng)
        assert as_lists(form_mediators(histograms, gamma=gamma)) == from_scratch(histograms, gamma)
    long_ranges = non_iid(rng, 30, 5)
    assert as_lists(form_mediators(long_ranges, gamma=3)) == brute_force(long_ranges, 3)


def emnist_shaped(clients: int, kind: str, seed: int) -> np.ndarray:
    """K = 47 histograms of a round: Dirichlet(0.1) shares of 50..500 samples, every class present,
    or the project's partitions ("classes": two shards per client; "dirichlet": alpha = 0.5)."""
    rng = np.random.default_rng(seed)
    if kind == "noniid":
        sizes = rng.integers(50, 501, (clients, 1))
        return np.round(rng.dirichlet(np.full(47, 0.1), clients) * sizes).astype(np.int64)
    if kind == "dense":
        return rng.integers(1, 50, (clients, 47))
    labels = np.repeat(np.arange(47), rng.integers(50, 150, 47) * clients // 20)
    return partition(labels, clients=clients, local_imbalance=kind, seed=seed, num_classes=47).label_histograms(47)


@pytest.mark.parametrize("kind", ["noniid", "dense", "classes", "dirichlet"])
def test_same_mediators_as_the_previous_implementation(kind: str) -> None:
    for seed, (clients, gamma) in enumerate([(1000, 10), (257, 7), (60, 1), (40, 64)]):
        histograms = emnist_shaped(clients, kind, seed)
        assert as_lists(form_mediators(histograms, gamma=gamma)) == previous_form_mediators(histograms, gamma=gamma)


@pytest.mark.parametrize("seed", range(40))
def test_same_mediators_as_the_previous_implementation_on_hard_cases(seed: int) -> None:
    histograms, gamma = random_histograms(np.random.default_rng(5000 + seed))
    assert as_lists(form_mediators(histograms, gamma=gamma)) == previous_form_mediators(histograms, gamma=gamma)


def test_ties_go_to_the_lowest_client_index() -> None:
    identical = np.tile([5, 5, 0], (6, 1))
    assert as_lists(form_mediators(identical, gamma=2)) == [[0, 1], [2, 3], [4, 5]]
    # Mirror images are equally far from uniform: the lower index wins.
    assert form_mediators(np.array([[0, 3], [3, 0], [1, 0]]), gamma=1).mediators[0].tolist() == [0]


def test_a_client_without_samples_is_placed_and_changes_nothing() -> None:
    histograms = np.array([[0, 0], [5, 0], [0, 5], [3, 3]])
    assignment = form_mediators(histograms, gamma=2)
    assert sorted(np.concatenate(assignment.mediators).tolist()) == [0, 1, 2, 3]
    assert as_lists(assignment) == brute_force(histograms, 2)
    assert kl_to_uniform(np.zeros((1, 4)))[0] == pytest.approx(math.log(4))


def test_kl_to_uniform_hand_values() -> None:
    # One class out of four: ln 4. Uniform: 0. Two of four equally: ln 2. Empty client: ln 4, as far
    # from uniform as one class (the greedy rescheduling scores an empty client the same way).
    kl = kl_to_uniform(np.array([[5, 0, 0, 0], [3, 3, 3, 3], [2, 2, 0, 0], [0, 0, 0, 0]]))
    np.testing.assert_allclose(kl, [np.log(4), 0.0, np.log(2), np.log(4)], atol=1e-12)


def test_result_is_read_only() -> None:
    assignment = form_mediators(HAND, gamma=2)
    with pytest.raises(ValueError):
        assignment.mediators[0][0] = 2


def test_mean_kl_pools_counts_before_normalising() -> None:
    # (1,0) and (0,9) pool to (1,9): KL = log 2 - H(0.1, 0.9), not the mean of two one-class clients.
    expected = math.log(2) + 0.1 * math.log(0.1) + 0.9 * math.log(0.9)
    assert mean_kl_to_uniform([np.array([[1, 0], [0, 9]])]) == pytest.approx(expected)
    assert mean_kl_to_uniform([np.array([1, 1]), np.array([[2, 0]])]) == pytest.approx(math.log(2) / 2)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"histograms": HAND, "gamma": 0}, "'gamma' must be >= 1 (got 0)."),
    ({"histograms": HAND, "gamma": 2.5}, "'gamma' must be an integer (got 2.5)."),
    ({"histograms": np.array([[1, -1]]), "gamma": 2}, "'histograms' must hold counts >= 0 (got -1.0)."),
    ({"histograms": np.array([1, 2, 3]), "gamma": 2},
     "'histograms' must be a 2-D array (clients x classes) with at least one class (got (3,))."),
    ({"histograms": np.array([[1.0, np.nan]]), "gamma": 2}, "'histograms' must hold finite counts (got nan)."),
    ({"histograms": np.zeros((0, 3)), "gamma": 2}, "'histograms' must have at least one client (row) (got (0, 3))."),
])
def test_bad_input_names_argument_rule_and_value(kwargs: dict, message: str) -> None:
    with pytest.raises(InputError) as caught:
        form_mediators(kwargs["histograms"], gamma=kwargs["gamma"])
    assert str(caught.value) == message


def test_mean_kl_rejects_mismatched_groups() -> None:
    with pytest.raises(InputError, match="'groups' must all have the same number of classes"):
        mean_kl_to_uniform([np.ones(3), np.ones(4)])
    with pytest.raises(InputError, match="'groups' must hold at least one group"):
        mean_kl_to_uniform([])
