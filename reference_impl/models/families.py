"""Four architecture families beside the TPDS CNN family, for sweeps across architectures.

Each family has one width multiplier ``w`` (channel counts and hidden widths are ``round(base * w)``,
half up, at least 1) and one depth (hidden layers, blocks per stage, blocks or transformer blocks;
keyword-only, its default is the layout below), so a sweep varies the size of a model without changing
its kind. With the TPDS layout (``scaled``, :mod:`reference_impl.models.builtin`) they make five families
whose visits cost differently per FLOP: dense layers only, plain convolutions, convolutions with
BatchNorm and skip connections, depthwise-separable convolutions, attention.

=============  ========================================================================================
name           layout (c = a base width times ``w``)
=============  ========================================================================================
``mlp``        flatten; ``depth`` (default 2) x [dense ``round(256 w)``, ReLU]; dense K
``resnet``     ResNet-8 for small images: conv 3x3 ``c = round(16 w)`` + BN + ReLU; three stages of one
               basic block each (``blocks``, default 1, per stage; c, 2c, 4c channels; the stage's first
               block has stride 1, 2, 2, the others stride 1): conv 3x3 - BN - ReLU - conv 3x3 - BN, plus
               the input (or its 1x1 conv + BN projection when the shape changes), ReLU; global average
               pool; dense K (``blocks`` 3 is the ResNet-20 layout)
``mobilenet``  MobileNet-v1 style: conv 3x3 stride 2 to ``c = round(32 w)`` + BN + ReLU; five
               depthwise-separable blocks (depthwise 3x3 - BN - ReLU - pointwise 1x1 - BN - ReLU) to
               2c, 4c (stride 2), 4c, 8c (stride 2), 8c channels (:data:`MOBILENET_BLOCKS`); global
               average pool; dense K. ``blocks`` k (default 5) keeps the first k blocks of that schedule
               when k <= 5 and appends k - 5 more blocks of 8c channels, stride 1, when k > 5
``vit``        a small vision transformer: patch embedding (conv 4x4 stride 4: 49 tokens on 28x28, 64 on
               32x32) to ``d = round(64 w)`` rounded to a multiple of the head size 16; learned position
               embedding; ``depth`` (default 2) pre-norm blocks (LayerNorm, qkv dense, ``F.scaled_dot_product_attention``
               over d/16 heads, dense; LayerNorm, dense 2d, GELU, dense d), LayerNorm, mean over tokens,
               dense K
=============  ========================================================================================

Parameters at ``w = 1`` and the default depth on 1x28x28 with 47 classes and on 3x32x32 with 10 (derived by hand in the
tests): ``mlp`` 278,831 and 855,050; ``resnet`` 80,159 and 78,042; ``mobilenet`` 145,711 and 136,778;
``vit`` 74,351 and 74,954. Every family is built with PyTorch's default initialisation (the ViT's
position embedding is drawn from N(0, 0.02^2)), so ``torch.manual_seed(s)`` before a build gives
identical weights; no family draws random numbers in its forward pass (no dropout), so a visit's work
depends only on its data.

A batch of one sample reaches a BatchNorm in train mode whenever a client's sample count leaves one
over (``m % B == 1``); where that BatchNorm sees one value per channel PyTorch refuses it. The
training loop (:func:`reference_impl.engine.training.train_local`) runs such a batch with the running
statistics, so every family (and a user's model) trains on any sample count.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from costmodel.errors import check_int, check_number
from reference_impl.models.builtin import check_shape, scaled, spatial_after

__all__ = ["HEAD_DIM", "MOBILENET_BLOCKS", "MOBILENET_EXTRA_BLOCK", "PATCH", "Attention", "BasicBlock", "TransformerBlock",
           "VisionTransformer", "mlp", "mobilenet", "resnet", "vit"]

#: Head size of the ViT's attention and its patch size.
HEAD_DIM = 16
PATCH = 4


def _checked(width: float, sample_shape: Sequence[int], num_classes: int) -> tuple[float, tuple[int, int, int], int]:
    return (check_number("width", width, exclusive_minimum=0.0), check_shape(sample_shape),
            check_int("num_classes", num_classes, minimum=1))


def mlp(width: float, sample_shape: Sequence[int], num_classes: int, *, depth: int = 2) -> nn.Sequential:
    """Dense layers only: ``depth`` hidden layers of ``h = round(256 w)`` units with ReLU, then dense K.

    Parameters: ``(V h + h) + (depth - 1)(h^2 + h) + (h K + K)`` for ``V`` input values.
    """
    width, shape, num_classes = _checked(width, sample_shape, num_classes)
    depth = check_int("depth", depth, minimum=1)
    hidden = scaled(256, width)
    layers: list[tuple[str, nn.Module]] = [("flatten", nn.Flatten())]
    for layer in range(1, depth + 1):
        layers += [(f"fc{layer}", nn.Linear(math.prod(shape) if layer == 1 else hidden, hidden)),
                   (f"relu{layer}", nn.ReLU())]
    return nn.Sequential(OrderedDict([*layers, ("out", nn.Linear(hidden, num_classes))]))


class BasicBlock(nn.Module):
    """conv 3x3 (stride) - BN - ReLU - conv 3x3 - BN, plus the input or its 1x1 conv + BN projection; ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


def resnet(width: float, sample_shape: Sequence[int], num_classes: int, *, blocks: int = 1) -> nn.Sequential:
    """ResNet with ``c = round(16 w)``: stem, three stages of ``blocks`` basic blocks (c, 2c, 4c), pool, dense K.

    ``blocks`` 1 is ResNet-8, 3 ResNet-20. A stage's first block is ``stage{s}``, its k-th ``stage{s}_{k}``.
    """
    width, shape, num_classes = _checked(width, sample_shape, num_classes)
    blocks = check_int("blocks", blocks, minimum=1)
    c = scaled(16, width)
    layers: list[tuple[str, nn.Module]] = [
        ("stem", nn.Conv2d(shape[0], c, 3, padding=1, bias=False)),
        ("stem_bn", nn.BatchNorm2d(c)),
        ("stem_relu", nn.ReLU()),
    ]
    channels = c
    for stage, (out_channels, stride) in enumerate(((c, 1), (2 * c, 2), (4 * c, 2)), start=1):
        for block in range(1, blocks + 1):
            name = f"stage{stage}" if block == 1 else f"stage{stage}_{block}"
            layers.append((name, BasicBlock(channels, out_channels, stride if block == 1 else 1)))
            channels = out_channels
    layers += [("pool", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()), ("fc", nn.Linear(channels, num_classes))]
    return nn.Sequential(OrderedDict(layers))


def _separable(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    return nn.Sequential(OrderedDict([
        ("dw", nn.Conv2d(in_channels, in_channels, 3, stride=stride, padding=1, groups=in_channels, bias=False)),
        ("dw_bn", nn.BatchNorm2d(in_channels)),
        ("dw_relu", nn.ReLU()),
        ("pw", nn.Conv2d(in_channels, out_channels, 1, bias=False)),
        ("pw_bn", nn.BatchNorm2d(out_channels)),
        ("pw_relu", nn.ReLU()),
    ]))


#: The MobileNet family's separable blocks: (channels as a multiple of c, stride).
MOBILENET_BLOCKS: tuple[tuple[int, int], ...] = ((2, 1), (4, 2), (4, 1), (8, 2), (8, 1))
#: The block appended to :data:`MOBILENET_BLOCKS` for each block beyond its five.
MOBILENET_EXTRA_BLOCK: tuple[int, int] = (8, 1)


def mobilenet(width: float, sample_shape: Sequence[int], num_classes: int, *, blocks: int = 5) -> nn.Sequential:
    """Depthwise-separable CNN with ``c = round(32 w)``: stem conv 3x3/2, ``blocks`` separable blocks, pool, dense K.

    The blocks are the first ``blocks`` of :data:`MOBILENET_BLOCKS`, then ``blocks - 5`` times
    :data:`MOBILENET_EXTRA_BLOCK` (8c channels, stride 1).
    """
    width, shape, num_classes = _checked(width, sample_shape, num_classes)
    blocks = check_int("blocks", blocks, minimum=1)
    c = scaled(32, width)
    schedule = (*MOBILENET_BLOCKS, *(MOBILENET_EXTRA_BLOCK,) * (blocks - len(MOBILENET_BLOCKS)))[:blocks]
    layers: list[tuple[str, nn.Module]] = [
        ("stem", nn.Conv2d(shape[0], c, 3, stride=2, padding=1, bias=False)),
        ("stem_bn", nn.BatchNorm2d(c)),
        ("stem_relu", nn.ReLU()),
    ]
    channels = c
    for block, (multiple, stride) in enumerate(schedule, start=1):
        layers.append((f"block{block}", _separable(channels, multiple * c, stride)))
        channels = multiple * c
    layers += [("pool", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()), ("fc", nn.Linear(channels, num_classes))]
    return nn.Sequential(OrderedDict(layers))


class Attention(nn.Module):
    """Multi-head self-attention over ``dim / head_dim`` heads through ``F.scaled_dot_product_attention``."""

    def __init__(self, dim: int, head_dim: int = HEAD_DIM) -> None:
        super().__init__()
        self.heads = dim // head_dim
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def extra_repr(self) -> str:
        return f"heads={self.heads}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, dim = x.shape
        q, k, v = self.qkv(x).reshape(batch, tokens, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)                       # (batch, heads, tokens, head_dim)
        return self.proj(out.transpose(1, 2).reshape(batch, tokens, dim))


class TransformerBlock(nn.Module):
    """Pre-norm block: ``x + attention(LN(x))``, then ``x + MLP(LN(x))`` with a GELU layer of 2 ``dim``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attention = Attention(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTransformer(nn.Module):
    """Patch embedding, position embedding, ``depth`` blocks, LayerNorm, mean over tokens, dense head."""

    def __init__(self, shape: tuple[int, int, int], num_classes: int, *, dim: int, depth: int) -> None:
        super().__init__()
        height, wide = spatial_after(shape, [(PATCH, PATCH, 0)], "ViT patch")
        self.embed = nn.Conv2d(shape[0], dim, PATCH, stride=PATCH)
        self.position = nn.Parameter(torch.empty(1, height * wide, dim))
        nn.init.normal_(self.position, std=0.02)
        self.blocks = nn.Sequential(*(TransformerBlock(dim) for _ in range(depth)))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.embed(x).flatten(2).transpose(1, 2) + self.position
        return self.head(self.norm(self.blocks(tokens)).mean(dim=1))


def vit(width: float, sample_shape: Sequence[int], num_classes: int, *, depth: int = 2) -> VisionTransformer:
    """A ViT of ``depth`` blocks (default 2) and width ``d = round(64 w)`` (a multiple of 16), patch 4, heads of 16."""
    width, shape, num_classes = _checked(width, sample_shape, num_classes)
    depth = check_int("depth", depth, minimum=1)
    return VisionTransformer(shape, num_classes, dim=scaled(64, width, HEAD_DIM), depth=depth)
