"""Counting what a model computes: FLOPs by operator class, values written, calls, convolution inputs.

Every count here is taken *as executed*: a :class:`OperatorTally` (a ``TorchDispatchMode``) sees each
ATen call of a forward (and, for training, the cross-entropy loss and the backward pass) on a batch of
zeros, so the first layer computes no input gradient (the data needs none) and a layer costs 3x its
forward FLOPs in training except the first, which costs 2x. One multiply-add is 2 FLOPs.

FLOPs by operator class (:data:`FLOP_CLASSES`):

=============  ========================================================================================
class          operators
=============  ========================================================================================
``conv``       ``aten.convolution`` and ``convolution_backward`` with ``groups == 1``, kernel > 1x1
``conv1x1``    the same with a 1x1 kernel (pointwise)
``dwconv``     the same with ``groups > 1`` (depthwise, grouped)
``linear``     ``aten.mm``, ``aten.addmm`` (dense layers, also applied to token sequences)
``bmm``        ``aten.bmm``, ``aten.baddbmm`` (batched products, e.g. ``nn.MultiheadAttention``)
``attention``  the kernels of ``F.scaled_dot_product_attention``: forward ``4 b h s_q s_k d``, backward
               ``10 b h s_q s_k d`` (batch b, heads h, query and key lengths, head size d)
=============  ========================================================================================

A convolution pass (forward, input gradient or weight gradient) counts
``2 * N * C_out * prod(spatial_out) * (C_in / groups) * prod(kernel)``; its *padding FLOPs* are what the
same pass would add with its channel counts rounded up to whole blocks of :data:`CHANNEL_BLOCK`
(``B(c) = 16 * ceil(c / 16)``): ``f * (B(C_in) * B(C_out) / (C_in * C_out) - 1)``, or
``f * (B(C_out) / C_out - 1)`` for a grouped one. oneDNN, which runs PyTorch's CPU convolutions,
lays channels out in blocks of 16 float32 lanes (one AVX-512 vector), so a convolution of 4 or 12
channels costs about what one of 16 does (without this count, the family study priced visits of
ResNets whose first stage has 4 to 10 channels 10-20% too cheap). On a machine whose vectors hold 8
lanes (AVX2) the blocks are 8 wide, and this count (always 16) then over-states the padding
(docs/limits.md). Matrix products use
``FlopCounterMode``'s own formulas. Normalizations, activations, pooling, the loss and the optimizer
count no FLOPs: their cost is in the values they write (class ``norm`` and ``other``).

Why not ``torch.utils.flop_counter.FlopCounterMode`` alone (torch 2.13, measured): it does not count
the CPU kernel of ``F.scaled_dot_product_attention`` (``_scaled_dot_product_flash_attention_for_cpu``
and its backward are not in its registry, so a ViT's attention counts 0), and its
``convolution_backward`` ignores ``groups`` in the weight gradient, charging a depthwise 3x3
convolution of C channels C times its weight-gradient FLOPs (a depthwise-separable CNN comes out
about 3x too dear). For dense layers and plain convolutions the two agree exactly (tested).

Counts are cached per (kind, architecture, sample shape, batch size), the architecture being the
model's class and ``repr`` (:func:`architecture_key`: every layer's hyper-parameters).
"""

from __future__ import annotations

import copy
import math
from collections import defaultdict
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode, flop_registry

from costmodel.errors import check_int, must
from reference_impl.models.builtin import check_shape

__all__ = [
    "CHANNEL_BLOCK",
    "FLOP_CLASSES",
    "OPERATOR_CLASSES",
    "OperatorTally",
    "architecture_key",
    "channel_blocks",
    "conv_input_values_per_sample",
    "count_parameters",
    "flopcounter_train_flops_per_sample",
    "forward_flops_per_sample",
    "train_flops_per_sample",
    "training_batch",
    "training_pass",
]

#: Operator classes that compute FLOPs, in report order.
FLOP_CLASSES: tuple[str, ...] = ("conv", "conv1x1", "dwconv", "linear", "bmm", "attention")
#: Channels per block of a CPU convolution's data layout (oneDNN's, 16 float32 lanes; module docstring).
CHANNEL_BLOCK = 16
#: Every operator class of a tally: the FLOP classes, normalizations, and everything else (element-wise
#: arithmetic, activations, pooling, reductions, the loss, copies).
OPERATOR_CLASSES: tuple[str, ...] = (*FLOP_CLASSES, "norm", "other")

_aten = torch.ops.aten
_CONVOLUTION = {_aten.convolution.default, _aten.convolution_backward.default}
_LINEAR = {_aten.mm.default, _aten.addmm.default}
_BATCHED = {_aten.bmm.default, _aten.baddbmm.default}
_NORM_NAMES = ("batch_norm", "layer_norm", "group_norm", "instance_norm")


def count_parameters(model: nn.Module) -> int:
    """Number of scalar parameters (every ``nn.Parameter``; buffers are not parameters)."""
    return sum(p.numel() for p in model.parameters())


def architecture_key(model: nn.Module) -> str:
    """What identifies a model's computation: its class and its ``repr`` (all layer hyper-parameters)."""
    return f"{type(model).__module__}.{type(model).__qualname__}\n{model!r}"


def _numel(tree: object) -> int:
    leaves, _ = tree_flatten(tree)
    return sum(t.numel() for t in leaves if isinstance(t, torch.Tensor))


def channel_blocks(channels: int, block: int = CHANNEL_BLOCK) -> int:
    """``channels`` rounded up to whole blocks of ``block`` (:data:`CHANNEL_BLOCK`): ``16 * ceil(c / 16)``."""
    return block * -(-int(channels) // block)


def _convolution(func: object, args: tuple, out: object) -> tuple[str, int, int]:
    """(class, FLOPs, padding FLOPs) of a convolution call: each pass
    ``f = 2 N C_out prod(spatial_out) (C_in/groups) prod(kernel)``, and what its channels rounded up to
    whole blocks add (module docstring)."""
    if func is _aten.convolution.default:
        x, weight, transposed, groups = args[0], args[1], args[6], args[8]
        positions_of = x if transposed else out          # transposed: its input has the "output" positions
        passes = 1
    else:                                                # (grad_out, input, weight, ..., output_mask)
        grad_out, x, weight, transposed, groups, mask = args[0], args[1], args[2], args[7], args[9], args[10]
        positions_of = x if transposed else grad_out
        passes = int(bool(mask[0])) + int(bool(mask[1]))  # input and weight gradients (bias: a sum, not counted)
    kernel = math.prod(weight.shape[2:])
    out_channels = weight.shape[1] * groups if transposed else weight.shape[0]
    in_per_group = weight.shape[0] // groups if transposed else weight.shape[1]
    per_channel_pair = 2 * positions_of.shape[0] * math.prod(positions_of.shape[2:]) * kernel
    flops = per_channel_pair * out_channels * in_per_group
    kind = "dwconv" if groups > 1 else ("conv1x1" if kernel == 1 else "conv")
    # f * (blocked / actual channel pairs - 1), in whole numbers
    padded_pairs = (in_per_group * channel_blocks(out_channels) if groups > 1 else
                    channel_blocks(in_per_group) * channel_blocks(out_channels))
    return kind, passes * flops, passes * per_channel_pair * (padded_pairs - in_per_group * out_channels)


def _attention(name: str, args: tuple) -> int:
    q, k = (args[1], args[2]) if "backward" in name else (args[0], args[1])
    *batch, s_q, head_dim = q.shape
    return (10 if "backward" in name else 4) * math.prod(batch) * s_q * k.shape[-2] * head_dim


class OperatorTally(TorchDispatchMode):
    """FLOPs, output values and calls of every ATen call, by operator class (:data:`OPERATOR_CLASSES`).

    View operations (``view``, ``t``, ``permute``, ...) write nothing: they are counted in
    ``calls["view"]`` only. ``values[c]`` is the number of output elements of class ``c``'s calls;
    ``padding_flops`` the convolutions' padding FLOPs (module docstring).
    """

    def __init__(self) -> None:
        super().__init__()
        self.padding_flops = 0
        self.flops: dict[str, float] = defaultdict(float)
        self.values: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001 (the dispatch signature)
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if func.is_view:
            self.calls["view"] += 1
            return out
        name = func.__name__
        flops = 0
        if func in _CONVOLUTION:
            kind, flops, padding = _convolution(func, args, out)
            self.padding_flops += padding
        elif func in _LINEAR or func in _BATCHED:
            kind = "linear" if func in _LINEAR else "bmm"
            flops = flop_registry[func._overloadpacket](*args, **kwargs, out_val=out)
        elif "scaled_dot_product" in name:
            kind, flops = "attention", _attention(name, args)
        elif any(norm in name for norm in _NORM_NAMES):
            kind = "norm"
        else:
            kind = "other"
        self.flops[kind] += flops
        self.values[kind] += _numel(out)
        self.calls[kind] += 1
        return out


def _graph_nodes(root: object) -> int:
    """Nodes of the autograd graph reachable from ``root``: backward functions and AccumulateGrad nodes."""
    seen: set[object] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        stack.extend(following for following, _ in node.next_functions)
    return len(seen)


def training_batch(sample_shape: Sequence[int], num_classes: int, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of zero samples and labels ``0, 1, .., K-1, 0, ..`` for :func:`training_pass`."""
    return torch.zeros((batch_size, *sample_shape)), torch.arange(batch_size) % num_classes


def training_pass(model: nn.Module, inputs: torch.Tensor, target: torch.Tensor) -> int:
    """One forward, cross-entropy and backward of ``model`` (in train mode) on one batch, as
    ``train_local`` runs it; returns the autograd graph's node count. Call it on a copy."""
    model.train()
    model.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(inputs), target)
    nodes = _graph_nodes(loss.grad_fn)
    loss.backward()
    return nodes


def _checked_shape(sample_shape: Sequence[int]) -> tuple[int, ...]:
    try:
        shape = tuple(int(s) for s in sample_shape)
    except (TypeError, ValueError):
        raise must("sample_shape", "be a sequence of positive integers", sample_shape) from None
    if not shape or min(shape) < 1:
        raise must("sample_shape", "be a sequence of positive integers", tuple(sample_shape))
    return shape


_CACHE: dict[tuple[str, str, tuple[int, ...], int], float] = {}


def _count(kind: str, model: nn.Module, sample_shape: Sequence[int], batch_size: int) -> float:
    shape = _checked_shape(sample_shape)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    key = (kind, architecture_key(model), shape, batch_size)
    if key in _CACHE:
        return _CACHE[key]
    # A copy, so the caller's parameters, gradients and mode are untouched; a forked RNG, so dropout
    # here consumes none of the caller's random numbers.
    clone = copy.deepcopy(model)
    with torch.random.fork_rng(devices=[]):
        inputs = torch.zeros((batch_size, *shape))
        if kind == "train":
            clone.train()
            with OperatorTally() as tally:
                logits = clone(inputs)
                F.cross_entropy(logits, torch.zeros(batch_size, dtype=torch.long)).backward()
            flops = sum(tally.flops.values())
        elif kind == "forward":
            clone.eval()
            with torch.no_grad(), OperatorTally() as tally:
                clone(inputs)
            flops = sum(tally.flops.values())
        else:
            clone.train()
            with FlopCounterMode(display=False) as counter:
                logits = clone(inputs)
                F.cross_entropy(logits, torch.zeros(batch_size, dtype=torch.long)).backward()
            flops = counter.get_total_flops()
    _CACHE[key] = flops / batch_size
    return _CACHE[key]


def train_flops_per_sample(model: nn.Module, sample_shape: Sequence[int], *, batch_size: int) -> float:
    """Training FLOPs per sample (the cost model's F): forward + loss + backward of one batch, as
    executed, / batch size; one multiply-add = 2 FLOPs.

    For a stack of layers with forward FLOPs ``f_1 .. f_L`` per sample (``2 * in * out`` for a dense
    layer, ``2 * H_out * W_out * C_out * C_in * k_h * k_w`` for a convolution):
    ``2 f_1 + 3 (f_2 + ... + f_L)``, about 3x a forward count. Attention and grouped convolutions are
    counted right (module docstring). Cached per (architecture, shape, batch size).
    """
    return _count("train", model, sample_shape, batch_size)


def forward_flops_per_sample(model: nn.Module, sample_shape: Sequence[int], *, batch_size: int) -> float:
    """Evaluation FLOPs per sample: one forward pass in eval mode, ``f_1 + ... + f_L``. Cached."""
    return _count("forward", model, sample_shape, batch_size)


def flopcounter_train_flops_per_sample(model: nn.Module, sample_shape: Sequence[int], *, batch_size: int) -> float:
    """What ``FlopCounterMode`` reports for the same training pass, per sample: a cross-check of
    :func:`train_flops_per_sample` (equal without attention and grouped convolutions). Cached."""
    return _count("flopcounter", model, sample_shape, batch_size)


def conv_input_values_per_sample(model: nn.Module, sample_shape: Sequence[int]) -> int:
    """Values entering the model's convolutions per sample: the sum over its convolution layers
    (``nn.Conv1d/2d/3d`` and transposed ones) of ``C_in * H_in * W_in`` (padding not counted).

    A CPU convolution reads (and in training, writes the gradient of) its whole input, much of it
    through an unfolded copy, whatever its FLOPs: memory traffic a FLOP count does not see. The
    cost model prices it per value (``train_s_per_conv_value``). 2,962 for the TPDS CNN on 1x28x28
    (784 + 12*12*12 + 18*5*5), 57,440 for the Keras cifar10_cnn on 3x32x32
    (3,072 + 32*32*32 + 32*15*15 + 64*15*15). The count runs one sample in eval mode without
    autograd; the model's mode is restored.
    """
    shape = check_shape(sample_shape)
    total = 0

    def add(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        total += int(inputs[0][0].numel())

    handles = [m.register_forward_hook(add) for m in model.modules() if isinstance(m, nn.modules.conv._ConvNd)]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            model(torch.zeros((1, *shape)))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return total
