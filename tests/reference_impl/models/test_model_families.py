"""The four families beside the TPDS CNN: parameters by hand, deterministic builds, widths, training on a
last batch of one sample."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from costmodel.errors import InputError
from reference_impl.config import MODEL_NAMES, WIDTH_MODELS
from reference_impl.engine.training import train_local
from reference_impl.models import MODELS, build_model, count_parameters
from reference_impl.models.families import mlp, mobilenet, resnet, vit

EMNIST = ((1, 28, 28), 47)
CIFAR = ((3, 32, 32), 10)


def _mlp(values: int, classes: int, h: int = 256, depth: int = 2) -> int:
    return (values * h + h) + (depth - 1) * (h * h + h) + (h * classes + classes)


def _resnet(channels: int, classes: int, c: int = 16, blocks: int = 1) -> int:
    bn = lambda n: 2 * n  # noqa: E731 (weight and bias)
    same = lambda n: 2 * (n * n * 9 + bn(n))  # noqa: E731 (a block without projection: two n -> n convs + BN)
    stem = channels * c * 9 + bn(c)
    stage1 = blocks * same(c)
    stage2 = c * 2 * c * 9 + bn(2 * c) + 2 * c * 2 * c * 9 + bn(2 * c) + c * 2 * c + bn(2 * c)
    stage3 = 2 * c * 4 * c * 9 + bn(4 * c) + 4 * c * 4 * c * 9 + bn(4 * c) + 2 * c * 4 * c + bn(4 * c)
    extra = (blocks - 1) * (same(2 * c) + same(4 * c))
    return stem + stage1 + stage2 + stage3 + extra + 4 * c * classes + classes


def _mobilenet(channels: int, classes: int, c: int = 32, multiples: tuple[int, ...] = (2, 4, 4, 8, 8)) -> int:
    total, cin = channels * c * 9 + 2 * c, c
    for multiple in multiples:
        cout = multiple * c
        total += cin * 9 + 2 * cin + cin * cout + 2 * cout       # depthwise + BN, pointwise + BN
        cin = cout
    return total + cin * classes + classes


def _vit(channels: int, tokens: int, classes: int, d: int = 64, depth: int = 2) -> int:
    block = 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + 2 * d + (d * 2 * d + 2 * d) + (2 * d * d + d)
    return (channels * d * 16 + d) + tokens * d + depth * block + 2 * d + d * classes + classes


@pytest.mark.parametrize("name,data,by_hand", [
    ("mlp", EMNIST, _mlp(784, 47)), ("mlp", CIFAR, _mlp(3072, 10)),
    ("resnet", EMNIST, _resnet(1, 47)), ("resnet", CIFAR, _resnet(3, 10)),
    ("mobilenet", EMNIST, _mobilenet(1, 47)), ("mobilenet", CIFAR, _mobilenet(3, 10)),
    ("vit", EMNIST, _vit(1, 49, 47)), ("vit", CIFAR, _vit(3, 64, 10)),
])
def test_parameters_at_width_one_by_hand(name, data, by_hand) -> None:
    shape, classes = data
    model = build_model(name, sample_shape=shape, num_classes=classes)
    assert count_parameters(model) == by_hand
    assert model(torch.zeros(3, *shape)).shape == (3, classes)


def test_the_documented_counts() -> None:
    counts = {(name, shape): count_parameters(build_model(name, sample_shape=shape, num_classes=classes))
              for name in ("mlp", "resnet", "mobilenet", "vit") for shape, classes in (EMNIST, CIFAR)}
    assert [counts[(n, s)] for n in ("mlp", "resnet", "mobilenet", "vit") for s, _ in (EMNIST, CIFAR)] == [
        278_831, 855_050, 80_159, 78_042, 145_711, 136_778, 74_351, 74_954]


@pytest.mark.parametrize("build,data,by_hand", [
    (lambda s, k: mlp(1.0, s, k, depth=1), EMNIST, _mlp(784, 47, depth=1)),
    (lambda s, k: mlp(0.75, s, k, depth=3), CIFAR, _mlp(3072, 10, h=192, depth=3)),
    (lambda s, k: mlp(0.25, s, k, depth=4), EMNIST, _mlp(784, 47, h=64, depth=4)),
    (lambda s, k: resnet(0.5, s, k, blocks=3), CIFAR, _resnet(3, 10, c=8, blocks=3)),
    (lambda s, k: resnet(0.375, s, k, blocks=2), EMNIST, _resnet(1, 47, c=6, blocks=2)),
    (lambda s, k: mobilenet(0.5, s, k, blocks=3), CIFAR, _mobilenet(3, 10, c=16, multiples=(2, 4, 4))),
    (lambda s, k: mobilenet(1.0, s, k, blocks=7), EMNIST, _mobilenet(1, 47, multiples=(2, 4, 4, 8, 8, 8, 8))),
    (lambda s, k: vit(1.0, s, k, depth=1), CIFAR, _vit(3, 64, 10, depth=1)),
    (lambda s, k: vit(0.75, s, k, depth=3), EMNIST, _vit(1, 49, 47, d=48, depth=3)),
])
def test_parameters_at_other_depths_by_hand(build, data, by_hand) -> None:
    shape, classes = data
    model = build(shape, classes)
    assert count_parameters(model) == by_hand
    assert model(torch.zeros(3, *shape)).shape == (3, classes)


def test_the_default_depth_is_today_s_model_weight_for_weight() -> None:
    shape, classes = CIFAR
    for family, keyword, default in ((mlp, "depth", 2), (resnet, "blocks", 1), (mobilenet, "blocks", 5),
                                     (vit, "depth", 2)):
        torch.manual_seed(5)
        implicit = family(0.5, shape, classes).state_dict()
        torch.manual_seed(5)
        explicit = family(0.5, shape, classes, **{keyword: default}).state_dict()
        assert list(implicit) == list(explicit) and all(torch.equal(implicit[k], explicit[k]) for k in implicit)
    with pytest.raises(InputError, match=r"^'blocks' must be"):
        resnet(1.0, shape, classes, blocks=0)
    with pytest.raises(InputError, match=r"^'depth' must be"):
        mlp(1.0, shape, classes, depth=1.5)


@pytest.mark.parametrize("name", ["mlp", "resnet", "mobilenet", "vit"])
def test_width_scales_the_size_and_the_same_seed_builds_the_same_weights(name) -> None:
    shape, classes = CIFAR
    sizes = [count_parameters(build_model(name, sample_shape=shape, num_classes=classes, width=w))
             for w in (0.25, 0.5, 1.0, 2.0)]
    assert sizes == sorted(sizes) and len(set(sizes)) == 4

    def weights(seed: int) -> dict[str, torch.Tensor]:
        torch.manual_seed(seed)
        return build_model(name, sample_shape=shape, num_classes=classes, width=0.5).state_dict()

    a, b, c = weights(3), weights(3), weights(4)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a if a[k].is_floating_point() and a[k].numel() > 1
                   and k.endswith("weight"))


def test_vit_width_is_a_multiple_of_the_head_size_and_heads_follow() -> None:
    model = vit(1.3, (3, 32, 32), 10)                  # 64 * 1.3 = 83.2 -> 80 (5 heads of 16)
    assert model.head.in_features == 80
    assert model.blocks[0].attention.heads == 5
    assert vit(0.1, (3, 32, 32), 10).head.in_features == 16    # at least one head


def test_width_is_refused_for_fixed_models_and_registries_agree() -> None:
    assert set(MODEL_NAMES) == set(MODELS) and set(WIDTH_MODELS) <= set(MODELS)
    with pytest.raises(InputError, match=r"^'width' must be 1\.0 for the fixed model 'keras-cifar' \(the width "
                                         r"families are scaled, mlp, resnet, mobilenet, vit\) \(got 2\.0\)\.$"):
        build_model("keras-cifar", sample_shape=(3, 32, 32), num_classes=10, width=2.0)
    with pytest.raises(InputError, match=r"^'sample_shape' must be large enough for the ViT patch layers "
                                         r"\(got \(1, 3, 3\)\)\.$"):
        build_model("vit", sample_shape=(1, 3, 3), num_classes=10)


def _train(model: nn.Module, samples: int, batch_size: int, shape: tuple[int, ...]) -> int:
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(samples, *shape, generator=generator)
    y = torch.arange(samples) % 3
    return train_local(model, x, y, epochs=1, batch_size=batch_size, learning_rate=1e-3,
                       generator=torch.Generator().manual_seed(1))


def test_a_last_batch_of_one_sample_trains_where_batchnorm_sees_one_value_per_channel() -> None:
    # On 3x8x8 the MobileNet's last maps are 1x1: a single sample gives its BatchNorms one value per channel,
    # which PyTorch refuses in train mode; train_local runs that batch with the running statistics.
    model = mobilenet(0.25, (3, 8, 8), 3)
    model.train()
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        model(torch.zeros(1, 3, 8, 8))
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    tracked = [int(m.num_batches_tracked) for m in norms]                        # the refused forward counted some
    assert _train(model, samples=9, batch_size=4, shape=(3, 8, 8)) == 3          # 4 + 4 + 1
    assert [int(m.num_batches_tracked) for m in norms] == [t + 2 for t in tracked]  # the lone sample updated none
    assert all(m.training for m in model.modules())                              # and train mode is back


def test_a_dense_model_with_batchnorm1d_trains_on_any_sample_count() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    before = model[2].running_mean.clone()
    assert _train(model, samples=5, batch_size=2, shape=(3, 2, 2)) == 3          # 2 + 2 + 1
    assert int(model[2].num_batches_tracked) == 2 and not torch.equal(model[2].running_mean, before)


@pytest.mark.parametrize("name", ["resnet", "mobilenet", "vit", "mlp"])
def test_every_family_trains_a_visit_with_a_lone_last_sample(name) -> None:
    shape, classes = EMNIST
    torch.manual_seed(0)
    model = build_model(name, sample_shape=shape, num_classes=classes, width=0.25)
    assert _train(model, samples=5, batch_size=4, shape=shape) == 2
    assert all(torch.isfinite(p).all() for p in model.parameters())
