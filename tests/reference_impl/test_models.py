"""The papers' models, the width-scaled family and the FLOP counts (checked against hand derivations)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import reference_impl.models.counting as counting
from costmodel.errors import InputError
from reference_impl.models import (
    build_model,
    count_parameters,
    forward_flops_per_sample,
    keras_cifar10_cnn,
    scaled_cnn,
    tpds_emnist_cnn,
    train_flops_per_sample,
)

EMNIST = (1, 28, 28)
CIFAR = (3, 32, 32)


def test_tpds_model_has_the_papers_68873_parameters() -> None:
    model = tpds_emnist_cnn()
    assert count_parameters(model) == 68_873
    # By hand: 12*25+12, 18*12*9+18, 24*18*4+24, 384*150+150, 150*47+47.
    per_layer = [sum(p.numel() for p in layer.parameters()) for layer in model if list(layer.parameters())]
    assert per_layer == [312, 1_962, 1_752, 57_750, 7_097]
    assert model(torch.zeros(2, *EMNIST)).shape == (2, 47)


def test_keras_cifar_model_has_1250858_parameters() -> None:
    model = keras_cifar10_cnn()
    assert count_parameters(model) == 1_250_858
    assert model(torch.zeros(2, *CIFAR)).shape == (2, 10)


def test_scaled_width_one_is_the_tpds_model() -> None:
    scaled = scaled_cnn(1.0, EMNIST, 47)
    assert repr(scaled) == repr(tpds_emnist_cnn())
    assert count_parameters(scaled) == 68_873


def test_scaled_family_spans_two_orders_of_magnitude() -> None:
    counts = [count_parameters(scaled_cnn(w, EMNIST, 47)) for w in (0.25, 0.5, 1.0, 2.0, 4.0)]
    assert counts == sorted(counts) and len(set(counts)) == len(counts)
    assert counts[-1] / counts[0] >= 100
    assert counts[0] == 5_863 and counts[-1] == 1_010_615


def test_scaled_model_runs_on_other_shapes() -> None:
    model = build_model("scaled", sample_shape=CIFAR, num_classes=10, width=0.5)
    assert model(torch.zeros(3, *CIFAR)).shape == (3, 10)


def test_input_too_small_for_the_layers_is_refused() -> None:
    with pytest.raises(InputError, match=r"^'sample_shape' must be large enough for the TPDS layers "
                                         r"\(got \(1, 8, 8\)\)\.$"):
        scaled_cnn(1.0, (1, 8, 8), 10)


def test_registry_builds_by_name_and_names_the_known_ones() -> None:
    assert count_parameters(build_model("tpds", sample_shape=EMNIST, num_classes=47)) == 68_873
    assert count_parameters(build_model("keras-cifar", sample_shape=CIFAR, num_classes=10)) == 1_250_858
    with pytest.raises(InputError, match=r"^'model' must be one of 'keras-cifar', 'mlp', 'mobilenet', 'resnet', "
                                         r"'scaled', 'tpds', 'vit', or PATH\.py:FUNCTION or package\.module:FUNCTION "
                                         r"\(got 'resnet50'\)\.$"):
        build_model("resnet50", sample_shape=EMNIST, num_classes=47)
    with pytest.raises(InputError, match=r"^'width' must be 1\.0 for the fixed model 'tpds'"):
        build_model("tpds", sample_shape=EMNIST, num_classes=47, width=2.0)
    with pytest.raises(InputError, match=r"^'width' must be > 0 \(got 0\)\.$"):
        build_model("scaled", sample_shape=EMNIST, num_classes=47, width=0)


@pytest.mark.parametrize("name", ["tpds", "keras-cifar", "scaled"])
def test_same_torch_seed_same_weights(name: str) -> None:
    def build(seed: int) -> dict[str, torch.Tensor]:
        torch.manual_seed(seed)
        return build_model(name, sample_shape=CIFAR, num_classes=10).state_dict()

    a, b, c = build(11), build(11), build(12)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


# ---------------------------------------------------------------------------------------------
# FLOPs
# ---------------------------------------------------------------------------------------------

def test_single_linear_layer_training_flops_by_hand() -> None:
    # Forward: 2 * in * out per sample. Backward, input needing no gradient: only the weight
    # gradient, another 2 * in * out (the bias gradient is a sum, which is not counted). Total 4x.
    layer = nn.Linear(7, 5)
    assert forward_flops_per_sample(layer, (7,), batch_size=4) == 2 * 7 * 5
    assert train_flops_per_sample(layer, (7,), batch_size=4) == 4 * 7 * 5


def test_second_layer_also_pays_for_its_input_gradient() -> None:
    # Layer 2's input is layer 1's output, which needs a gradient: fwd + weight grad + input grad.
    model = nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 3))
    assert train_flops_per_sample(model, (6,), batch_size=5) == 2 * (2 * 6 * 4) + 3 * (2 * 4 * 3)


def test_tpds_flops_by_hand() -> None:
    conv1 = 2 * (12 * 12) * 12 * (1 * 5 * 5)
    conv2 = 2 * (5 * 5) * 18 * (12 * 3 * 3)
    conv3 = 2 * (4 * 4) * 24 * (18 * 2 * 2)
    fc1, fc2 = 2 * 384 * 150, 2 * 150 * 47
    model = tpds_emnist_cnn()
    assert forward_flops_per_sample(model, EMNIST, batch_size=10) == conv1 + conv2 + conv3 + fc1 + fc2 == 368_196
    assert train_flops_per_sample(model, EMNIST, batch_size=10) == 2 * conv1 + 3 * (conv2 + conv3 + fc1 + fc2)


def test_keras_forward_flops_by_hand() -> None:
    convs = (2 * 32 * 32 * 32 * 27 + 2 * 30 * 30 * 32 * 288 + 2 * 15 * 15 * 64 * 288
             + 2 * 13 * 13 * 64 * 576)
    dense = 2 * 2304 * 512 + 2 * 512 * 10
    assert forward_flops_per_sample(keras_cifar10_cnn(), CIFAR, batch_size=2) == convs + dense == 41_482_240


def test_flops_per_sample_do_not_depend_on_batch_size() -> None:
    model = scaled_cnn(0.5, EMNIST, 47)
    values = {train_flops_per_sample(model, EMNIST, batch_size=b) for b in (1, 3, 16)}
    assert len(values) == 1


def test_flop_count_is_cached_and_leaves_the_model_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    model = scaled_cnn(0.75, EMNIST, 47)  # an architecture no other test counts
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(0)
    rng_before = torch.get_rng_state()

    first = train_flops_per_sample(model, EMNIST, batch_size=8)

    assert torch.equal(torch.get_rng_state(), rng_before)  # dropout drew from a forked RNG
    assert not model.training
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())

    calls = []
    real = counting.OperatorTally
    monkeypatch.setattr(counting, "OperatorTally", lambda: calls.append(1) or real())
    again = scaled_cnn(0.75, EMNIST, 47)  # a new instance of the same architecture
    assert train_flops_per_sample(again, EMNIST, batch_size=8) == first
    assert calls == []
    train_flops_per_sample(again, EMNIST, batch_size=9)  # another batch size is another key
    assert len(calls) == 1


def test_bad_batch_size_is_refused() -> None:
    with pytest.raises(InputError, match=r"^'batch_size' must be >= 1 \(got 0\)\.$"):
        train_flops_per_sample(nn.Linear(2, 2), (2,), batch_size=0)


def test_conv_input_values_count_every_convolution_input_by_hand():
    from torch import nn

    from reference_impl.models import conv_input_values_per_sample, keras_cifar10_cnn, tpds_emnist_cnn

    # TPDS on 1x28x28: conv1 sees 1x28x28, conv2 12x12x12 ((28-5)//2+1), conv3 18x5x5 ((12-3)//2+1)
    assert conv_input_values_per_sample(tpds_emnist_cnn(47), (1, 28, 28)) == 784 + 12 * 12 * 12 + 18 * 5 * 5
    # Keras on 3x32x32: 3x32x32, 32x32x32 (same padding), 32x15x15 (valid 30, pooled), 64x15x15 (same)
    keras = keras_cifar10_cnn(10)
    assert conv_input_values_per_sample(keras, (3, 32, 32)) == 3072 + 32 * 32 * 32 + 32 * 15 * 15 + 64 * 15 * 15
    assert keras.training                                    # the count leaves the model's mode alone
    assert conv_input_values_per_sample(nn.Sequential(nn.Flatten(), nn.Linear(784, 10)), (1, 28, 28)) == 0
