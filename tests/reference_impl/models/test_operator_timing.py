"""Layers timed alone: which calls a model makes (attention too), each distinct one timed once, the split into
per-call and per-sample parts, and the caller's model untouched."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from costmodel.errors import InputError
from reference_impl.models.families import mlp, mobilenet, vit
from reference_impl.models.operator_timing import (
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


def test_each_distinct_call_is_timed_once_and_a_larger_layer_costs_more_per_sample() -> None:
    small = LayerCall("linear", (256, 256, True), (256,), True)
    large = LayerCall("linear", (1024, 1024, True), (1024,), True)  # 16x the FLOPs per sample
    cache: dict = {}
    timed = time_layers([small, large, small], cache=cache, repetitions=3)
    assert set(timed) == set(cache) == {small, large}
    again = time_layers([small], cache=cache)
    assert again[small] == cache[small]                          # reused, not re-timed
    assert timed[large][1] > timed[small][1] > 0.0
    b1, b2 = 8, 40
    for per_call, per_sample in timed.values():
        assert per_call + b1 * per_sample > 0.0 and per_call + b2 * per_sample > 0.0


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
