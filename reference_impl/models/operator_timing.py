"""Each layer's measured cost: the convolutions, dense layers and attention of a model timed alone, here.

A count-based compute statement prices a convolution by its FLOPs, the values entering it and its calls;
how fast a kernel of a given shape runs on this CPU is not in the counts (a depthwise 3x3 on a 4x4 map, a
pointwise convolution of 18 channels, a dense layer applied to 49 tokens each run at their own fraction of
the machine's FLOP rate). This module measures it instead of modelling it:

* :func:`layer_calls`: one forward pass at batch 2 with a hook on every ``nn.Conv2d`` and ``nn.Linear``
  records each call's layer shape and input shape (per sample), and whether its input needs a gradient
  (the first layer's does not, so its backward computes no input gradient); a function mode records
  every ``F.scaled_dot_product_attention`` call (query, key and value shapes per sample) the same way;
* :func:`time_layers`: each *distinct* call (many models share shapes) is rebuilt alone and timed forward
  and backward (``layer(x).backward(g)`` with a dense random output gradient ``g``, as the layers further
  on send; ``.sum()`` would send a zero-stride one, on which a dense layer's backward products run
  longer; thread CPU time) at two batch sizes ``b1 < b2``, the two
  sizes interleaved, the median of each (gradients cleared before each pass, as ``zero_grad`` does in
  training); the time splits like a count, ``t(b) = t_call + b * t_sample``,
  into a per-call and a per-sample part;
* :func:`operator_times`: the sums per model, :class:`OperatorTimes`.

Times depend on the machine and on its load: a table measured on one machine prices that machine. The
caller's model is not modified (a deep copy runs the forward pass), and the global RNG is forked.
"""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Iterable, MutableMapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from costmodel.errors import check_int, must
from reference_impl.models.builtin import check_shape

__all__ = ["LayerCall", "OperatorTimes", "layer_calls", "operator_times", "time_layers"]

#: The two batch sizes each layer is timed at (per-call and per-sample parts are split from them).
TIMING_BATCH_SIZES: tuple[int, int] = (8, 40)
#: Interleaved timings per batch size (each the median of :data:`_INNER` passes); the median is kept.
TIMING_REPETITIONS = 5
_INNER = 3
_WARMUP = 2


@dataclass(frozen=True)
class LayerCall:
    """One call of a convolution, a dense layer or attention: what its timing depends on.

    ``kind`` is ``"conv"``, ``"linear"`` or ``"attention"``; ``layer`` the layer's constructor arguments
    (conv: in and out channels, kernel, stride, padding, groups, bias; linear: in and out features, bias;
    attention: whether causal); ``sample_shape`` its input's shape per sample (attention: query, key and
    value stacked, ``(3, heads, tokens, head size)``, timed on the stack's three slices, whose backward
    adds their gradients into one: a small extra over the model's own split of a ``qkv`` product);
    ``input_grad`` whether its backward computes an input gradient.
    """

    kind: str
    layer: tuple
    sample_shape: tuple[int, ...]
    input_grad: bool

    def build(self) -> nn.Module:
        """The layer alone, freshly initialized."""
        if self.kind == "conv":
            c_in, c_out, kernel, stride, padding, groups, bias = self.layer
            return nn.Conv2d(c_in, c_out, kernel, stride, padding, groups=groups, bias=bias)
        if self.kind == "attention":
            return _Attention(*self.layer)
        f_in, f_out, bias = self.layer
        return nn.Linear(f_in, f_out, bias=bias)


class _Attention(nn.Module):
    """``F.scaled_dot_product_attention`` of a stacked ``(B, 3, heads, tokens, head size)`` input."""

    def __init__(self, is_causal: bool) -> None:
        super().__init__()
        self.is_causal = is_causal

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.scaled_dot_product_attention(x[:, 0], x[:, 1], x[:, 2], is_causal=self.is_causal)


#: ``F.scaled_dot_product_attention``'s positional arguments, in order.
_SDPA_ARGUMENTS = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale")


class _AttentionCalls(TorchFunctionMode):
    """Records the :class:`LayerCall` of every ``F.scaled_dot_product_attention`` call."""

    def __init__(self, calls: list[LayerCall]) -> None:
        super().__init__()
        self.calls = calls

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204 (torch's protocol)
        kwargs = kwargs or {}
        if func is F.scaled_dot_product_attention:
            bound = {**dict(zip(_SDPA_ARGUMENTS, args)), **kwargs}
            q, k, v = bound["query"], bound["key"], bound["value"]
            if (q.dim() != 4 or not q.shape[1:] == k.shape[1:] == v.shape[1:] or bound.get("attn_mask") is not None
                    or bound.get("dropout_p", 0.0)):
                raise must("model", "call attention with equal query, key and value shapes, no mask and no dropout "
                           "to be timed", f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
            grad = any(bool(t.requires_grad) for t in (q, k, v))
            self.calls.append(LayerCall("attention", (bool(bound.get("is_causal", False)),), (3, *q.shape[1:]), grad))
        return func(*args, **kwargs)


@dataclass(frozen=True, kw_only=True)
class OperatorTimes:
    """One model's measured layer costs on this machine (seconds; forward and backward of each layer).

    ``conv_sample_s``, ``linear_sample_s``, ``attention_sample_s``: per training sample, summed over the
    model's calls of each kind;
    ``layer_call_s``: per step, the per-call parts of every call;
    ``calls``: the layer calls per forward pass.
    """

    conv_sample_s: float
    linear_sample_s: float
    attention_sample_s: float
    layer_call_s: float
    calls: int


def layer_calls(model: nn.Module, sample_shape: Sequence[int]) -> list[LayerCall]:
    """Every ``nn.Conv2d``, ``nn.Linear`` and attention call of one forward pass of ``model``, in call order."""
    shape = check_shape(sample_shape)
    clone = copy.deepcopy(model)
    calls: list[LayerCall] = []

    def hook(module: nn.Module, inputs: tuple, _output: object) -> None:
        x = inputs[0]
        if isinstance(module, nn.Conv2d):
            if not isinstance(module.padding, tuple) or module.padding_mode != "zeros" or module.dilation != (1, 1):
                raise must("model", "have convolutions with numeric zero padding and no dilation to be timed",
                           repr(module))
            layer = (module.in_channels, module.out_channels, module.kernel_size, module.stride, module.padding,
                     module.groups, module.bias is not None)
            calls.append(LayerCall("conv", layer, tuple(x.shape[1:]), bool(x.requires_grad)))
        else:
            layer = (module.in_features, module.out_features, module.bias is not None)
            calls.append(LayerCall("linear", layer, tuple(x.shape[1:]), bool(x.requires_grad)))

    handles = [m.register_forward_hook(hook) for m in clone.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            clone.train()
            with _AttentionCalls(calls):
                clone(torch.randn(2, *shape))
    finally:
        for handle in handles:
            handle.remove()
    return calls


def _pass_seconds(layer: nn.Module, x: torch.Tensor, gradient: torch.Tensor, passes: int) -> float:
    times = []
    for _ in range(passes):
        layer.zero_grad(set_to_none=True)
        x.grad = None
        start = time.thread_time()
        layer(x).backward(gradient)
        times.append(time.thread_time() - start)
    return statistics.median(times)


def time_layers(calls: Iterable[LayerCall], *, batch_sizes: tuple[int, int] = TIMING_BATCH_SIZES,
                repetitions: int = TIMING_REPETITIONS,
                cache: MutableMapping[tuple, tuple[float, float]] | None = None
                ) -> dict[LayerCall, tuple[float, float]]:
    """``{call: (per_call_s, per_sample_s)}`` for each distinct call, timed alone (module docstring), on
    one thread. ``cache``: earlier timings to reuse and to extend, keyed by ``(call, batch_sizes,
    repetitions)``."""
    calls = list(calls)
    b1, b2 = (check_int("batch_sizes", b, minimum=1) for b in batch_sizes)
    if b1 >= b2:
        raise must("batch_sizes", "be two increasing integers >= 1", tuple(batch_sizes))
    repetitions = check_int("repetitions", repetitions, minimum=1)
    cache = {} if cache is None else cache
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            for call in dict.fromkeys(calls):
                if (call, (b1, b2), repetitions) in cache:
                    continue
                layer = call.build()
                inputs = [torch.randn(b, *call.sample_shape, requires_grad=call.input_grad) for b in (b1, b2)]
                with torch.no_grad():
                    gradients = [torch.randn_like(layer(x)) for x in inputs]
                for x, gradient in zip(inputs, gradients):
                    _pass_seconds(layer, x, gradient, _WARMUP)
                small, large = [], []
                for _ in range(repetitions):
                    small.append(_pass_seconds(layer, inputs[0], gradients[0], _INNER))
                    large.append(_pass_seconds(layer, inputs[1], gradients[1], _INNER))
                t1, t2 = statistics.median(small), statistics.median(large)
                per_sample = (t2 - t1) / (b2 - b1)
                cache[(call, (b1, b2), repetitions)] = (t1 - b1 * per_sample, per_sample)
    finally:
        torch.set_num_threads(threads)
    return {call: cache[(call, (b1, b2), repetitions)] for call in calls}


def operator_times(model: nn.Module, sample_shape: Sequence[int], *,
                   cache: MutableMapping[tuple, tuple[float, float]] | None = None) -> OperatorTimes:
    """The :class:`OperatorTimes` of ``model`` on samples of ``sample_shape`` (module docstring)."""
    calls = layer_calls(model, sample_shape)
    timed = time_layers(calls, cache=cache)
    return OperatorTimes(
        conv_sample_s=sum(timed[c][1] for c in calls if c.kind == "conv"),
        linear_sample_s=sum(timed[c][1] for c in calls if c.kind == "linear"),
        attention_sample_s=sum(timed[c][1] for c in calls if c.kind == "attention"),
        layer_call_s=sum(timed[c][0] for c in calls),
        calls=len(calls))
