"""Architecture features: exact counts against hand derivations, the FlopCounterMode corrections, and the
caller's model, RNG and gradients left alone."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from costmodel.model.scenario import Scenario
from reference_impl.models import (
    build_model,
    forward_flops_per_sample,
    model_features,
    tpds_emnist_cnn,
    train_flops_per_sample,
)
from reference_impl.models.families import Attention


def test_a_single_dense_layer_by_hand() -> None:
    # F: forward 2*784*10, weight gradient 2*784*10 (the data needs no gradient): 31,360. V_e: log-softmax,
    # its backward and the loss gradient write 10 values each. N: NllLoss, LogSoftmax, Addmm, T and two
    # AccumulateGrad nodes.
    f = model_features(nn.Sequential(nn.Flatten(), nn.Linear(784, 10)), (1, 28, 28), 10)
    assert f.params == 7_850 and f.param_tensors == 2
    assert f.train_flops_per_sample == 2 * (2 * 784 * 10) == 31_360
    assert f.train_flops_by_class["linear"] == 31_360 and f.flopcounter_train_flops_per_sample == 31_360
    assert (f.conv_input_values, f.elementwise_values, f.autograd_nodes, f.conv_calls) == (0, 30, 6, 0)
    assert f.sample_values == 784


def test_a_hidden_relu_layer_by_hand() -> None:
    # V_e: ReLU forward and backward 2*64, log-softmax, its backward and the loss gradient 3*47. N: NllLoss,
    # LogSoftmax, two Addmm, two T, ReLU and four AccumulateGrad nodes. F: 2*(2*784*64) + 3*(2*64*47).
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 47))
    f = model_features(model, (1, 28, 28), 47)
    assert (f.elementwise_values, f.autograd_nodes) == (2 * 64 + 3 * 47, 11) == (269, 11)
    assert f.train_flops_per_sample == 2 * 2 * 784 * 64 + 3 * 2 * 64 * 47 == 218_752


def test_the_tpds_cnn_matches_the_paper_and_the_cost_model_defaults() -> None:
    f = model_features(tpds_emnist_cnn(47), (1, 28, 28), 47)
    emnist = Scenario.emnist()
    assert f.params == 68_873 == emnist.params
    assert f.conv_input_values == 784 + 12 * 12 * 12 + 18 * 5 * 5 == 2_962 == emnist.conv_input_values
    assert f.train_flops_per_sample == emnist.train_flops_per_sample == 1_018_188
    assert f.flopcounter_train_flops_per_sample == f.train_flops_per_sample       # no attention, no groups
    # ReLU forward and backward 2 x 2,712; dropout (mask, scale, apply, its backward) 5 x 450; log-softmax,
    # its backward and the loss gradient 3 x 47
    assert f.elementwise_values == 2 * (1728 + 450 + 384 + 150) + 5 * 450 + 3 * 47 == emnist.elementwise_values
    assert (f.autograd_nodes, f.conv_calls) == (emnist.autograd_nodes, emnist.conv_calls) == (25, 6)
    assert f.model_inputs() == {name: getattr(emnist, name) for name in f.model_inputs()}


def test_the_keras_cnn_matches_the_cinic10_preset() -> None:
    model = build_model("keras-cifar", sample_shape=(3, 32, 32), num_classes=10)
    f = model_features(model, (3, 32, 32), 10)
    cinic = Scenario.cinic10()
    assert f.model_inputs() == {name: getattr(cinic, name) for name in f.model_inputs()}
    assert f.conv_input_values == 3072 + 32 * 32 * 32 + 32 * 15 * 15 + 64 * 15 * 15


def test_a_depthwise_convolution_is_counted_once_not_once_per_group() -> None:
    # 1x1 conv 3->16 (first layer: forward + weight gradient), depthwise 3x3 over 16 channels on 8x8
    # (forward, input and weight gradients), dense 1024->10 (three passes).
    model = nn.Sequential(nn.Conv2d(3, 16, 1), nn.Conv2d(16, 16, 3, padding=1, groups=16), nn.Flatten(),
                          nn.Linear(16 * 8 * 8, 10))
    f = model_features(model, (3, 8, 8), 10)
    depthwise_pass = 2 * 16 * 8 * 8 * 1 * 9
    assert f.train_flops_by_class["dwconv"] == 3 * depthwise_pass == 55_296
    assert f.train_flops_by_class["conv1x1"] == 2 * (2 * 16 * 8 * 8 * 3) == 12_288
    assert f.train_flops_by_class["linear"] == 3 * (2 * 1024 * 10)
    assert f.conv_calls == 2                     # the depthwise conv and its backward; the 1x1 one has no kernel
    # FlopCounterMode charges the depthwise weight gradient once per group (16 x)
    assert f.flopcounter_train_flops_per_sample == f.train_flops_per_sample + 15 * depthwise_pass


def test_padding_flops_are_what_channel_counts_rounded_up_to_blocks_of_16_add_by_hand() -> None:
    # On 8x8 (64 positions), a pass of f = 2*64*k*(C_in/groups)*C_out FLOPs pads to
    # f*(B(C_in)*B(C_out)/(C_in*C_out) - 1), a grouped one to f*(B(C_out)/C_out - 1), B(c) = 16*ceil(c/16):
    # conv 3->12, 3x3, first layer (forward and weight gradient): 2 * 2*64*9 * (16*16 - 3*12) = 506,880;
    # depthwise 3x3 over 12 channels (three passes): 3 * 2*64*9 * (16 - 12) = 13,824;
    # 1x1 conv 12->20 (three passes): 3 * 2*64 * (16*32 - 12*20) = 104,448; a dense layer pads nothing.
    model = nn.Sequential(nn.Conv2d(3, 12, 3, padding=1), nn.Conv2d(12, 12, 3, padding=1, groups=12),
                          nn.Conv2d(12, 20, 1), nn.Flatten(), nn.Linear(20 * 8 * 8, 10))
    f = model_features(model, (3, 8, 8), 10)
    assert f.conv_padding_flops == 506_880 + 13_824 + 104_448 == 625_152
    # channel counts that are whole blocks pad nothing, nor does a model without convolutions
    whole = nn.Sequential(nn.Conv2d(16, 32, 3, padding=1), nn.Conv2d(32, 32, 3, padding=1, groups=32), nn.Flatten(),
                          nn.Linear(32 * 8 * 8, 10))
    assert model_features(whole, (16, 8, 8), 10).conv_padding_flops == 0
    assert model_features(nn.Sequential(nn.Flatten(), nn.Linear(784, 10)), (1, 28, 28), 10).conv_padding_flops == 0
    # the TPDS CNN (1, 12, 18, 24 channels: blocks of 16, 16, 32, 32) and a narrow ResNet
    assert model_features(tpds_emnist_cnn(47), (1, 28, 28), 47).conv_padding_flops == 4_140_528
    resnet = build_model("resnet", sample_shape=(3, 32, 32), num_classes=10, width=0.25)      # 4, 8, 16 channels
    assert model_features(resnet, (3, 32, 32), 10).conv_padding_flops == 42_123_264


class _Tokens(nn.Module):
    """(32, 4, 4) samples as 16 tokens of 32 values, one attention layer (2 heads of 16), mean, dense 3."""

    def __init__(self) -> None:
        super().__init__()
        self.attention = Attention(32)
        self.head = nn.Linear(32, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.attention(x.flatten(2).transpose(1, 2)).mean(dim=1))


def test_scaled_dot_product_attention_is_counted_where_flopcountermode_sees_nothing() -> None:
    f = model_features(_Tokens(), (32, 4, 4), 3)
    heads, tokens, head_dim = 2, 16, 16
    attention = (4 + 10) * heads * tokens * tokens * head_dim      # forward 4 b h s^2 d, backward 10 b h s^2 d
    assert f.train_flops_by_class["attention"] == attention == 114_688
    qkv = 2 * (2 * tokens * 32 * 96)           # first layer: forward + weight gradient
    proj = 3 * (2 * tokens * 32 * 32)
    head = 3 * (2 * 32 * 3)
    assert f.train_flops_by_class["linear"] == qkv + proj + head
    assert f.flopcounter_train_flops_per_sample == f.train_flops_per_sample - attention


def test_the_vit_family_attention_by_hand() -> None:
    f = model_features(build_model("vit", sample_shape=(3, 32, 32), num_classes=10), (3, 32, 32), 10)
    assert f.train_flops_by_class["attention"] == 2 * (4 + 10) * 4 * 64 * 64 * 16      # 2 blocks, 4 heads


def test_multihead_attention_lands_in_batched_products() -> None:
    class MHA(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attention = nn.MultiheadAttention(16, 2, batch_first=True)
            self.head = nn.Linear(16, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            tokens = x.flatten(2).transpose(1, 2)
            return self.head(self.attention(tokens, tokens, tokens)[0].mean(dim=1))

    f = model_features(MHA(), (16, 4, 4), 3)
    assert f.train_flops_by_class["bmm"] > 0 and f.train_flops_by_class["attention"] == 0


def test_per_sample_parts_do_not_depend_on_the_batch_sizes() -> None:
    model = build_model("resnet", sample_shape=(3, 32, 32), num_classes=10, width=0.25)
    a = model_features(model, (3, 32, 32), 10, batch_sizes=(2, 3), cache=False)
    b = model_features(model, (3, 32, 32), 10, batch_sizes=(4, 8), cache=False)
    assert a == b


def test_training_and_forward_flops_agree_with_the_features() -> None:
    model = build_model("mobilenet", sample_shape=(3, 32, 32), num_classes=10, width=0.5)
    f = model_features(model, (3, 32, 32), 10)
    assert train_flops_per_sample(model, (3, 32, 32), batch_size=5) == f.train_flops_per_sample
    forward = forward_flops_per_sample(model, (3, 32, 32), batch_size=5)
    first_conv = 2 * 16 * 16 * 16 * 3 * 9                       # stem: no input gradient
    assert f.train_flops_per_sample == 3 * forward - first_conv


def test_the_callers_model_rng_and_gradients_are_untouched() -> None:
    torch.manual_seed(5)
    model = build_model("resnet", sample_shape=(3, 32, 32), num_classes=10, width=0.25)
    model.eval()
    before = copy.deepcopy(model.state_dict())
    state = torch.get_rng_state()
    model_features(model, (3, 32, 32), 10, cache=False)
    assert not any(m.training for m in model.modules())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert torch.equal(state, torch.get_rng_state())
    assert not any(m._forward_hooks for m in model.modules())


def test_a_forward_that_fails_propagates_and_leaves_no_hook() -> None:
    from reference_impl.models import conv_input_values_per_sample

    class Broken(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.conv(x)
            raise RuntimeError("a forward that fails after its convolution")

    broken = Broken()
    broken.train()
    with pytest.raises(RuntimeError, match="after its convolution"):
        model_features(broken, (1, 8, 8), 2)
    with pytest.raises(RuntimeError, match="after its convolution"):
        conv_input_values_per_sample(broken, (1, 8, 8))   # hooks on the model itself
    assert not broken.conv._forward_hooks and broken.training


def test_bad_arguments_are_one_line() -> None:
    from costmodel.errors import InputError

    with pytest.raises(InputError, match=r"^'batch_sizes' must be two increasing integers >= 1 \(got \(4, 4\)\)\.$"):
        model_features(nn.Linear(2, 2), (1, 1, 2), 2, batch_sizes=(4, 4))
    with pytest.raises(InputError, match=r"^'num_classes' must be >= 1 \(got 0\)\.$"):
        model_features(nn.Linear(2, 2), (1, 1, 2), 0)
