"""Layers timed alone: which calls a model makes (attention too), each distinct one timed once, the split into
per-call and per-sample parts, and the caller's model untouched."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from costmodel.errors import InputError
from reference_impl.models.families import mlp, mobilenet, vit
from reference_impl.models import operator_timing
from reference_impl.models.operator_timing import (
    TIMING_BATCH_SIZES,
    LayerCall,
    layer_calls,
    operator_times,
    time_layers,
)


def test_layer_calls_of_a_mobilenet_by_hand() -> None:
    # c = round(32 * 0.5) = 16; stem 1 -> 16 stride 2 (28 -> 14); blocks 16 -> 32, 32 -> 64 (stride 2, 14 -> 7),
    # 64 -> 64; each a depthwise 3x3 and a pointwise 1x1; dense 64 -> 47
    calls = layer_calls(mobilenet(0.5, (1, 28, 28), 47, blocks=3), (1, 28, 28))
    assert [c.kind for c in calls] == ["conv"] * 7 + ["linear"]
    assert calls[0] == LayerCall("conv", (1, 16, (3, 3), (2, 2), (1, 1), 1, False), (1, 28, 28), False)
    assert calls[1] == LayerCall("conv", (16, 16, (3, 3), (1, 1), (1, 1), 16, False), (16, 14, 14), True)
    assert calls[2] == LayerCall("conv", (16, 32, (1, 1), (1, 1), (0, 0), 1, False), (16, 14, 14), True)
    assert calls[3].layer[5] == 32 and calls[3].sample_shape == (32, 14, 14)
    assert calls[4].sample_shape == (32, 7, 7)
    assert calls[-1] == LayerCall("linear", (64, 47, True), (64,), True)


def test_layer_calls_leave_the_model_untouched() -> None:
    model = mobilenet(0.25, (3, 32, 32), 10, blocks=2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.eval()
    layer_calls(model, (3, 32, 32))
    assert not model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_each_distinct_call_is_timed_once_and_a_larger_layer_costs_more_per_sample(monkeypatch) -> None:
    small = LayerCall("linear", (256, 256, True), (256,), True)
    large = LayerCall("linear", (1024, 1024, True), (1024,), True)  # 16x the FLOPs per sample
    timings = []
    timed_pass = operator_timing._pass_seconds
    monkeypatch.setattr(operator_timing, "_pass_seconds",
                        lambda layer, *args: timings.append(type(layer)) or timed_pass(layer, *args))
    cache: dict = {}
    timed = time_layers(iter([small, large, small]), cache=cache, repetitions=3)   # any iterable, read once
    assert set(timed) == {small, large} and len(cache) == 2
    # per distinct call: a warm-up at each batch size, then 3 repetitions at each
    assert len(timings) == 2 * (2 + 2 * 3)
    assert timed[large][1] > timed[small][1] > 0.0
    sentinel = {(small, TIMING_BATCH_SIZES, 3): (-1.0, -2.0)}
    assert time_layers([small], cache=sentinel, repetitions=3) == {small: (-1.0, -2.0)}   # reused, not re-timed
    assert len(timings) == 2 * (2 + 2 * 3)


def test_the_split_is_exact_for_a_linear_cost(monkeypatch) -> None:
    # a layer that costs 0.5 ms per call and 0.1 ms per sample: the two batch sizes give both parts back
    monkeypatch.setattr(operator_timing, "_pass_seconds", lambda layer, x, *_: 5e-4 + 1e-4 * x.shape[0])
    call = LayerCall("linear", (8, 8, True), (8,), True)
    per_call, per_sample = time_layers([call])[call]
    assert per_call == pytest.approx(5e-4, rel=1e-9) and per_sample == pytest.approx(1e-4, rel=1e-9)


def test_timing_restores_threads_and_the_global_rng() -> None:
    model = mobilenet(0.25, (1, 28, 28), 47, blocks=2)        # built first: building draws from the RNG
    threads = torch.get_num_threads()
    state = torch.random.get_rng_state()
    time_layers([LayerCall("conv", (3, 4, (3, 3), (1, 1), (1, 1), 1, False), (3, 8, 8), False)], repetitions=1)
    layer_calls(model, (1, 28, 28))
    assert torch.get_num_threads() == threads and torch.equal(torch.random.get_rng_state(), state)


def test_models_the_timing_cannot_rebuild_are_refused_by_name() -> None:
    with pytest.raises(InputError, match="'model' must have convolutions with numeric zero padding and no dilation"):
        layer_calls(nn.Sequential(nn.Conv2d(1, 4, 3, dilation=2), nn.Flatten()), (1, 28, 28))

    class Masked(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            q = x.reshape(x.shape[0], 1, 28, 28)
            return F.scaled_dot_product_attention(q, q, q, dropout_p=0.1)

    with pytest.raises(InputError, match="'model' must call attention with equal query, key and value shapes, no "
                                         "mask and no dropout"):
        layer_calls(Masked(), (1, 28, 28))


@pytest.mark.parametrize("sizes", [(8, 8), (0, 4), (40, 8)])
def test_bad_batch_sizes_are_refused_by_name(sizes: tuple[int, int]) -> None:
    with pytest.raises(InputError, match="'batch_sizes'"):
        time_layers([LayerCall("linear", (4, 4, True), (4,), True)], batch_sizes=sizes)


def test_attention_calls_are_recorded_and_timed() -> None:
    # a ViT 32 wide (two heads of 16) on 1x28x28: patch conv, then per block qkv, attention, proj, two MLP layers
    model = vit(0.5, (1, 28, 28), 47, depth=2)
    calls = layer_calls(model, (1, 28, 28))
    assert [c.kind for c in calls] == ["conv", *["linear", "attention", "linear", "linear", "linear"] * 2, "linear"]
    attention = calls[2]
    assert attention == LayerCall("attention", (False,), (3, 2, 49, 16), True)
    timed = time_layers([attention], repetitions=2)
    assert timed[attention][1] > 0.0
    times = operator_times(model, (1, 28, 28))
    assert times.calls == len(calls) and times.attention_sample_s > 0.0 and times.conv_sample_s > 0.0


def test_a_dense_model_has_no_convolution_or_attention_time() -> None:
    times = operator_times(mlp(0.25, (1, 28, 28), 47, depth=2), (1, 28, 28))
    assert times.calls == 3 and times.conv_sample_s == 0.0 and times.attention_sample_s == 0.0
    assert times.linear_sample_s > 0.0
