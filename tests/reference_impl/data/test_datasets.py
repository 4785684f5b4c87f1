"""The datasets: the real digits resized and split, the generated sets shaped like the papers' data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from costmodel.errors import InputError
from reference_impl.data.datasets import Dataset, load_dataset


def test_digits_are_the_real_1797_images_resized_and_split_stratified() -> None:
    split = load_dataset("digits", seed=0)
    assert len(split.train) + len(split.test) == 1797
    assert split.train.sample_shape == (1, 28, 28) == split.test.sample_shape
    assert split.train.x.dtype == torch.float32 and split.train.y.dtype == torch.int64
    assert float(split.train.x.min()) >= 0.0 and float(split.train.x.max()) <= 1.0
    assert float(split.train.x.max()) > 0.99  # scaled from 0..16, not left at 0..1/16
    # Stratified 75/25: every class's test share is within one sample of a quarter.
    train_counts, test_counts = split.train.class_counts(), split.test.class_counts()
    totals = train_counts + test_counts
    assert np.all(np.abs(test_counts - totals * 0.25) <= 1)


def test_digits_resizing_keeps_an_image_recognisable() -> None:
    from sklearn.datasets import load_digits

    raw = load_digits().images[:3] / 16.0
    split = load_dataset("digits", seed=0)
    every = torch.cat([split.train.x, split.test.x])
    down = torch.nn.functional.adaptive_avg_pool2d(every, (8, 8))[:, 0].numpy().reshape(len(every), -1)
    # Each of sklearn's first images is in one of the splits: pooled back to 8x8, its resized copy
    # is nearly a linear function of the original (bilinear up, average down).
    for image in raw.reshape(3, -1):
        nearest = down[np.argmin(np.abs(down - image).mean(axis=1))]
        assert np.corrcoef(nearest, image)[0, 1] > 0.95


def test_digits_split_is_seeded() -> None:
    a, b, c = (load_dataset("digits", seed=s) for s in (3, 3, 4))
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.y, b.test.y)
    assert not torch.equal(a.train.y, c.train.y)


def test_digits_reject_a_size() -> None:
    with pytest.raises(InputError, match=r"^'samples' must be unset for the fixed dataset 'digits' \(got 500\)\.$"):
        load_dataset("digits", seed=0, samples=500)


@pytest.mark.parametrize(("name", "shape", "classes"),
                         [("emnist-shape", (1, 28, 28), 47), ("cinic-shape", (3, 32, 32), 10)])
def test_generated_sets_have_the_papers_shapes_and_the_asked_size(name: str, shape: tuple[int, ...],
                                                                  classes: int) -> None:
    split = load_dataset(name, seed=1, samples=470, test_samples=94)
    assert split.train.sample_shape == shape and split.train.num_classes == classes
    assert len(split.train) == 470 and len(split.test) == 94
    # Balanced by default: 470 / 47 = 10 per class, 94 / 10 -> 9 or 10.
    counts = split.train.class_counts()
    assert counts.max() - counts.min() <= 1 and counts.sum() == 470
    assert split.test.class_counts().max() - split.test.class_counts().min() <= 1
    assert not torch.equal(split.train.x[:5], split.test.x[:5])  # independent streams


def test_generated_sets_are_seeded() -> None:
    a, b, c = (load_dataset("cinic-shape", seed=s, samples=50, test_samples=10) for s in (7, 7, 8))
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.train.y, b.train.y)
    assert not torch.equal(a.train.x, c.train.x)


def test_generated_labels_follow_class_weights_exactly() -> None:
    split = load_dataset("cinic-shape", seed=0, samples=100, test_samples=10,
                         class_weights=[4, 2, 1, 1, 1, 1, 0, 0, 0, 0])
    assert split.train.class_counts().tolist() == [40, 20, 10, 10, 10, 10, 0, 0, 0, 0]


def test_unknown_dataset_names_the_known_ones() -> None:
    with pytest.raises(InputError, match=r"^'dataset' must be one of 'cinic-shape', 'digits', "
                                         r"'emnist-shape' \(got 'mnist'\)\.$"):
        load_dataset("mnist", seed=0)


def test_dataset_rejects_labels_out_of_range() -> None:
    with pytest.raises(InputError, match="'y' must hold labels in 0..2"):
        Dataset(name="t", x=torch.zeros(2, 1, 4, 4), y=torch.tensor([0, 3]), num_classes=3)
