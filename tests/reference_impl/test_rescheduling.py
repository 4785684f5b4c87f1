"""Greedy mediator formation (Astraea step 4): hand-worked cases, counts, and a brute-force oracle."""

from __future__ import annotations

import math

import numpy as np
import pytest

from costmodel.errors import InputError
from reference_impl import rescheduling
from reference_impl.rescheduling import (
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


def as_lists(assignment: MediatorAssignment) -> list[list[int]]:
    return [m.tolist() for m in assignment.mediators]


def test_hand_worked_example_gamma_2() -> None:
    assignment = form_mediators(HAND, gamma=2)
    assert as_lists(assignment) == [[3, 1], [0, 2]]
    assert assignment.kl_evaluations == 4 + 3 + 2 + 1
    assert assignment.greedy_steps == 4
    assert assignment.num_mediators == 2


def test_hand_worked_example_gamma_3_fills_with_the_balancing_client() -> None:
    assert as_lists(form_mediators(HAND, gamma=3)) == [[3, 1, 2], [0]]


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


def test_fractional_counts_and_small_chunks_match_the_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    # Exercise the float path (no lookup table), the chunked update and slot compaction together.
    monkeypatch.setattr(rescheduling, "_SLOT_CHUNK", 3)
    rng = np.random.default_rng(11)
    histograms = rng.random((37, 6)) * (rng.random((37, 6)) < 0.6) * 10
    assert as_lists(form_mediators(histograms, gamma=4)) == brute_force(histograms, 4)


@pytest.mark.parametrize(("table_limit", "difference_tables"), [
    (1 << 22, True),    # n log n table and per-step difference tables (short count ranges)
    (1 << 22, False),   # n log n table, two lookups per entry
    (1, True),          # no table: logarithms
])
def test_every_gain_path_matches_the_rule(monkeypatch: pytest.MonkeyPatch, table_limit: int,
                                          difference_tables: bool) -> None:
    monkeypatch.setattr(rescheduling, "_TABLE_LIMIT", table_limit)
    monkeypatch.setattr(rescheduling, "_DIFFERENCE_TABLES", difference_tables)
    rng = np.random.default_rng(12)
    short_ranges = rng.integers(0, 6, (90, 6)) * (rng.random((90, 6)) < 0.5)
    long_ranges = non_iid(rng, 30, 5)
    for histograms, gamma in ((short_ranges, 7), (long_ranges, 3)):
        assert as_lists(form_mediators(histograms, gamma=gamma)) == brute_force(histograms, gamma)


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
