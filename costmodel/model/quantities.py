"""Every quantity of the cost model as a sympy symbol with its unit, meaning and rule.

The model of Astraea (Duan et al., "Astraea: Self-balancing Federated Learning for Improving
Classification Accuracy of Mobile Deep Learning Applications", ICCD 2019; "Self-Balancing Federated
Learning With Global Imbalanced Data in Mobile Systems", IEEE TPDS 32(1), 2021) and of FedAvg
(McMahan et al., AISTATS 2017) is written in two kinds of symbols, kept apart as tensorwaves keeps
*domain variables* apart from *parameters*:

:data:`INPUTS`
    What a user varies in a what-if question (clients per round, model size, bandwidths, ...).
    Each has a default: the papers' TPDS EMNIST setup (500 clients, 50 per round, mediators of
    10, 47 classes, batch 10, one local and one mediator epoch, the 68,873-parameter CNN).
:data:`COEFFICIENTS`
    What calibration fits on a machine (effective FLOP/s, seconds per optimizer step, ...). They
    have no defaults here: they come from a calibration file and are never typed by hand.

Each quantity is a :class:`Quantity` record: name (the fixed project-wide name, also the frame
column), sympy symbol (short, so expressions print and render as LaTeX readably), unit, one-line
meaning, and the rule its values must obey. :class:`~costmodel.model.scenario.Scenario` is one point of the input space,
validated with the project's one-line :class:`~costmodel.errors.InputError` wording.

Choices where the papers are silent
-----------------------------------
* ``train_flops_per_sample`` defaults to the EMNIST CNN's training FLOPs derived by hand from the
  TPDS architecture (not measured): forward multiply-accumulates per 28x28 sample are
  43,200 (conv 12x5x5/2) + 48,600 (conv 18x3x3/2) + 27,648 (conv 24x2x2/1) + 57,600 (dense 150)
  + 7,050 (dense 47) = 184,098 MACs = 368,196 FLOP. Training counts forward + backward as executed,
  the convention of ``torch.utils.flop_counter.FlopCounterMode`` that the reference implementation
  records: 3x forward for every layer except the first, whose input needs no gradient (2x):
  3*368,196 - 86,400 = 1,018,188 FLOP per sample. The Keras CIFAR-10 CNN of the CINIC-10 setup has
  41,482,240 forward FLOP per 32x32x3 sample, its first convolution 1,769,472, so 122,677,248
  training FLOP. ``flops_per_s`` is fitted on the same convention, so the two agree; a
  user's own model should pass the figure its counter gives.
* ``conv_input_values`` (values entering the convolutions per sample: the sum of C*H*W at every
  convolution's input) is 2,962 for the TPDS CNN on 1x28x28 and 57,440 for the Keras CNN on
  3x32x32; ``reference_impl.models.conv_input_values_per_sample`` counts it for any model (0 for
  one without convolutions). Like the FLOPs it is an architecture figure: vary it with the model.
* ``samples_per_client`` defaults to EMNIST-Balanced's 112,800 training images over 500 clients
  (225.6); the papers' imbalanced subsets are smaller and not tabulated, so override it.
  CINIC-10's preset uses its 90,000 training images over 100 clients (900).
* ``augmented_fraction``, ``augmented_fraction_sd``, ``removed_fraction`` and ``classes_per_client``
  default to what the papers' EMNIST setup determines (:data:`costmodel.model.label_mix.EMNIST_HISTOGRAM`:
  the long tail on which the printed TPDS plan at tau_d = 3.5 adds the reported 81.8%, Dirichlet
  clients at the papers' client KL), derived there, never typed; the CINIC-10 preset uses
  :data:`~costmodel.model.label_mix.CINIC10_HISTOGRAM`. ``augmented_fraction_sd`` is the spread of
  the clients' own growth: augmentation lands on the clients that hold the rare classes, so clients
  of equal original size train on unequal amounts of data. Compute all four from your own histogram
  with :mod:`costmodel.model.label_mix` (or, for a run, :mod:`calibration.scenario`).
* ``classes_per_client`` (``K_c``) is the mean number of classes a client holds: the greedy
  rescheduling's work per candidate grows with it, not with ``K``.
* ``plans_augmentation`` is 1 when the server plans augmentation and the clients augment (the TPDS
  or ICCD plan) and 0 for the plan ``'none'``: Astraea's setup is then the distribution report
  alone, and the augmented and removed fractions must be 0.
* ``mediator_load_spread`` (kappa) defaults to 1: the mediators' training loads spread as sums of
  ``gamma`` randomly grouped clients would. Astraea's greedy rescheduling does not group at random:
  to make a mediator's label distribution uniform it gathers the large clients and the augmented
  ones (rare classes) into the first mediators it fills, so with unequal clients the loads spread
  more: kappa = 1.85 for the held-out configuration with lognormal client sizes (sigma 0.5, 4
  mediators of 8; the most loaded mediator trained on 1.43-1.56x the mean, about twice the excess
  random grouping gives), 0.65-1.3 for the held-out ones with equal clients.
  :func:`calibration.scenario.scenario_from_workload` computes it for a configuration by planning
  the run's rounds (:mod:`reference_impl.workload`, no training). It has no effect when clients
  are equal (``s_n = s_a = 0``, the presets).
* ``client_load_spread`` (kappa_c) defaults to 1: the largest of the c clients a round selects
  exceeds the mean by ``z_c*s_n`` as for normally distributed sizes. Real client sizes are skewed
  (log-normal, long-tailed), so the largest is larger: kappa_c = 1.45 for the held-out
  configuration with log-normal sizes (sigma 0.5, c = 32), whose FedAvg round was 14% short without
  it. :func:`calibration.scenario.scenario_from_workload` computes it from the planned rounds.
* ``rounds`` defaults to 100, an arbitrary horizon for totals.
* Bandwidths default to 10 Mbit/s client uplink, 20 Mbit/s client downlink and a 1 Gbit/s server
  link. ``math.inf`` is allowed and means an in-process transfer: the network term vanishes and
  only latency and (de)serialization remain.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from costmodel.contracts.coefficients import COEFFICIENT_TABLE
from costmodel.errors import InputError, must
from costmodel.model.label_mix import EMNIST_HISTOGRAM

__all__ = [
    "CINIC10_AUTOGRAD_NODES",
    "CINIC10_CONV_CALLS",
    "CINIC10_CONV_INPUT_VALUES",
    "CINIC10_CONV_PADDING_FLOPS",
    "CINIC10_ELEMENTWISE_VALUES",
    "CINIC10_PARAMS",
    "CINIC10_TRAIN_FLOPS",
    "COEFFICIENTS",
    "EMNIST_AUTOGRAD_NODES",
    "EMNIST_CONV_CALLS",
    "EMNIST_CONV_INPUT_VALUES",
    "EMNIST_CONV_PADDING_FLOPS",
    "EMNIST_ELEMENTWISE_VALUES",
    "EMNIST_PARAMS",
    "EMNIST_TRAIN_FLOPS",
    "INPUTS",
    "NAME_OF",
    "QUANTITIES",
    "Quantity",
    "SYMBOL_OF",
    "check_coefficients",
    "check_input_array",
    "check_input_value",
    "sym",
]


@dataclass(frozen=True, kw_only=True)
class Quantity:
    """One input or coefficient of the model.

    Attributes
    ----------
    name : str
        Project-wide name (frame column, keyword argument), e.g. ``"uplink_bits_per_s"``.
    symbol : sympy.Symbol
        The symbol used in the expressions, e.g. ``b_up``.
    unit : str
        SI unit (or count) of the value.
    meaning : str
        One-line meaning.
    kind : str
        ``"input"`` (what-if domain variable) or ``"coefficient"`` (fitted platform parameter).
    default : float or None
        Default value for inputs (TPDS EMNIST setup); ``None`` for coefficients.
    integer : bool
        Whether values must be whole numbers.
    minimum : float
        Lower bound of allowed values.
    minimum_inclusive : bool
        Whether the lower bound itself is allowed (``>=``) or not (``>``).
    maximum : float or None
        Upper bound, if any.
    maximum_inclusive : bool
        Whether the upper bound itself is allowed.
    allow_inf : bool
        Whether ``+inf`` is allowed (bandwidths: an in-process transfer).
    """

    name: str
    symbol: sp.Symbol
    unit: str
    meaning: str
    kind: str
    default: float | None = None
    integer: bool = False
    minimum: float = 0.0
    minimum_inclusive: bool = False
    maximum: float | None = None
    maximum_inclusive: bool = True
    allow_inf: bool = False

    @property
    def rule(self) -> str:
        """The lower-bound rule as it appears in error messages, e.g. ``"be >= 1"``, ``"be >= 1 bit/s"``."""
        return f"be {'>=' if self.minimum_inclusive else '>'} {self._amount(self.minimum)}"

    @property
    def upper_rule(self) -> str:
        """The upper-bound rule as it appears in error messages, e.g. ``"be <= 1e+09"``."""
        return f"be {'<=' if self.maximum_inclusive else '<'} {self._amount(self.maximum)}"

    @property
    def bounds(self) -> str:
        """Both bounds in words for help and docs, e.g. ``">= 1 and <= 1e+09"``."""
        lower = self.rule.removeprefix("be ")
        return lower if self.maximum is None else f"{lower} and {self.upper_rule.removeprefix('be ')}"

    def _amount(self, value: float | None) -> str:
        shown = f"{value:g}"
        return f"{shown} {self.unit}" if self.unit in _UNITS_SHOWN_IN_RULES and value != 0 else shown


#: Units a bound is stated with (counts and fractions read plainly without one).
_UNITS_SHOWN_IN_RULES = frozenset({"bit/s", "B", "B/param", "FLOP", "FLOP/s", "s"})


def _input(name: str, symbol: str, unit: str, meaning: str, default: float, *, integer: bool = False,
           minimum: float = 0.0, minimum_inclusive: bool = False, maximum: float | None = None,
           maximum_inclusive: bool = True, allow_inf: bool = False, nonnegative: bool = False) -> Quantity:
    assumptions = {"nonnegative": True} if nonnegative else {"positive": True}
    if integer:
        assumptions["integer"] = True
    return Quantity(name=name, symbol=sp.Symbol(symbol, **assumptions), unit=unit, meaning=meaning,
                    kind="input", default=default, integer=integer, minimum=minimum,
                    minimum_inclusive=minimum_inclusive, maximum=maximum,
                    maximum_inclusive=maximum_inclusive, allow_inf=allow_inf)


def _coefficient(name: str, symbol: str, unit: str, meaning: str, *, maximum: float | None = None,
                 minimum: float = 0.0, nonnegative: bool = False) -> Quantity:
    assumptions = {"nonnegative": True} if nonnegative else {"positive": True}
    return Quantity(name=name, symbol=sp.Symbol(symbol, **assumptions), unit=unit, meaning=meaning,
                    kind="coefficient", maximum=maximum, minimum=minimum,
                    minimum_inclusive=nonnegative or minimum > 0)


#: EMNIST CNN (TPDS): parameters and training FLOPs per sample (see the module docstring).
EMNIST_PARAMS = 68_873
EMNIST_TRAIN_FLOPS = 3 * 2 * 184_098 - 2 * 43_200  # first layer: no input gradient
#: Keras cifar10_cnn used for CINIC-10: parameters and training FLOPs per sample.
CINIC10_PARAMS = 1_250_858
CINIC10_TRAIN_FLOPS = 3 * 2 * 20_741_120 - 2 * 884_736  # first layer: no input gradient
#: Values entering the convolutions per sample: TPDS CNN on 1x28x28 (784 + 12*12*12 + 18*5*5) and the
#: Keras cifar10_cnn on 3x32x32 (3,072 + 32*32*32 + 32*15*15 + 64*15*15).
EMNIST_CONV_INPUT_VALUES = 784 + 12 * 12 * 12 + 18 * 5 * 5
CINIC10_CONV_INPUT_VALUES = 3072 + 32 * 32 * 32 + 32 * 15 * 15 + 64 * 15 * 15
#: Values written by element-wise operations per sample of a training pass (V_e), autograd nodes per step
#: (N) and spatial-kernel convolution calls per step (C_k), as ``reference_impl.models.model_features``
#: counts them. TPDS CNN on 1x28x28: ReLU forward and backward 2 * 2,712, dropout 5 * 450, log-softmax,
#: its backward and the loss gradient 3 * 47; 10 AccumulateGrad + 15 backward nodes; 3 convolutions and
#: their 3 backward calls. Keras cifar10_cnn on 3x32x32: 283,326 values, 33 nodes, 8 calls.
EMNIST_ELEMENTWISE_VALUES = 2 * 2712 + 5 * 450 + 3 * 47
EMNIST_AUTOGRAD_NODES = 25
EMNIST_CONV_CALLS = 6
CINIC10_ELEMENTWISE_VALUES = 283_326
CINIC10_AUTOGRAD_NODES = 33
CINIC10_CONV_CALLS = 8
#: The convolutions' padding FLOPs per training sample (F_pad: what their channel counts rounded up to blocks of
#: 16 add, ``reference_impl.models.counting``). TPDS CNN on 1x28x28, layers (C_in, C_out, output positions,
#: kernel) (1, 12, 144, 25) with no input gradient, (12, 18, 25, 9) and (18, 24, 16, 4):
#: 2*2*144*25*(16*16 - 12) + 3*2*25*9*(16*32 - 216) + 3*2*16*4*(32*32 - 432). Keras cifar10_cnn on
#: 3x32x32: only its first layer (3 -> 32 channels, 1,024 positions, 3x3) pads: 2*2*1024*9*(16*32 - 96).
EMNIST_CONV_PADDING_FLOPS = 2 * 2 * 144 * 25 * (16 * 16 - 12) + 3 * 2 * 25 * 9 * (16 * 32 - 216) \
    + 3 * 2 * 16 * 4 * (32 * 32 - 432)
CINIC10_CONV_PADDING_FLOPS = 2 * 2 * 1024 * 9 * (16 * 32 - 96)

#: The inputs the papers' EMNIST setup determines (augmentation volume and spread, classes per client).
_EMNIST_MIX = EMNIST_HISTOGRAM.preset_inputs()

_INPUT_LIST: tuple[Quantity, ...] = (
    _input("clients_total", "N", "clients", "clients in the federation (all report their label histogram once)",
           500, integer=True, minimum=1, minimum_inclusive=True, maximum=1e9),
    _input("clients_per_round", "c", "clients", "clients selected per synchronization round",
           50, integer=True, minimum=1, minimum_inclusive=True, maximum=1e9),
    _input("classes", "K", "classes", "label classes (length of a distribution report)",
           47, integer=True, minimum=1, minimum_inclusive=True, maximum=1e6),
    _input("samples_per_client", "n", "samples", "mean training samples per client before augmentation",
           112_800 / 500, maximum=1e9),
    _input("samples_per_client_sd", "s_n", "samples", "standard deviation of samples per client",
           0.0, minimum=0, minimum_inclusive=True, nonnegative=True, maximum=1e9),
    _input("local_epochs", "E", "epochs", "local epochs per client visit (E)",
           1, integer=True, minimum=1, minimum_inclusive=True, maximum=1e4),
    _input("mediator_epochs", "E_m", "epochs", "mediator epochs per round: passes over a mediator's clients (E_m)",
           1, integer=True, minimum=1, minimum_inclusive=True, maximum=1e4),
    _input("mediator_size", "gamma", "clients", "clients per mediator (gamma)",
           10, integer=True, minimum=1, minimum_inclusive=True, maximum=1e9),
    _input("batch_size", "B", "samples", "mini-batch size (B)",
           10, integer=True, minimum=1, minimum_inclusive=True, maximum=1e9),
    _input("rounds", "R", "rounds", "synchronization rounds (for totals)",
           100, integer=True, minimum=1, minimum_inclusive=True, maximum=1e9),
    _input("params", "P", "params", "model parameters (|w| in parameters)",
           EMNIST_PARAMS, integer=True, minimum=1, minimum_inclusive=True, maximum=1e13),
    _input("bytes_per_param", "b_p", "B/param", "bytes per serialized parameter (4 for float32)", 4.0, maximum=16),
    _input("message_header_bytes", "h", "B", "header bytes of every message of the wire format",
           16.0, minimum=0, minimum_inclusive=True, nonnegative=True, maximum=1e9),
    _input("train_flops_per_sample", "F", "FLOP", "training FLOPs per sample (forward + backward)",
           float(EMNIST_TRAIN_FLOPS), maximum=1e18),
    _input("conv_input_values", "V_c", "values",
           "values entering the model's convolutions per sample (sum of C*H*W at each conv input)",
           EMNIST_CONV_INPUT_VALUES, integer=True, minimum=0, minimum_inclusive=True, nonnegative=True, maximum=1e12),
    _input("sample_values", "V", "values", "values per sample (784 for 1x28x28)",
           784, integer=True, minimum=1, minimum_inclusive=True, maximum=1e12),
    _input("sample_channels", "C_s", "channels", "channels per sample (1 for 1x28x28, 3 for 3x32x32)",
           1, integer=True, minimum=1, minimum_inclusive=True, maximum=1e6),
    _input("classes_per_client", "K_c", "classes", "mean number of classes a client holds samples of",
           _EMNIST_MIX["classes_per_client"], minimum=1, minimum_inclusive=True, maximum=1e6),
    _input("plans_augmentation", "pi_a", "1",
           "1 when the server plans augmentation and clients augment, 0 for the plan 'none'",
           1, integer=True, minimum=0, minimum_inclusive=True, nonnegative=True, maximum=1),
    _input("elementwise_values", "V_e", "values",
           "values written by element-wise operations per sample of a training pass (activations, their "
           "gradients, additions, pooling, dropout, the loss)",
           EMNIST_ELEMENTWISE_VALUES, integer=True, minimum=0, minimum_inclusive=True, nonnegative=True,
           maximum=1e12),
    _input("autograd_nodes", "N_node", "nodes",
           "autograd graph nodes per optimizer step (backward functions + one per parameter tensor)",
           EMNIST_AUTOGRAD_NODES, integer=True, minimum=0, minimum_inclusive=True, nonnegative=True, maximum=1e9),
    _input("conv_calls", "C_k", "calls",
           "convolution calls per optimizer step (forward and backward) with a kernel > 1x1 or groups > 1",
           EMNIST_CONV_CALLS, integer=True, minimum=0, minimum_inclusive=True, nonnegative=True, maximum=1e9),
    _input("conv_padding_flops", "F_pad", "FLOP",
           "training FLOPs per sample the convolutions would add with their channel counts rounded up to blocks "
           "of 16 (the CPU layout's; 0 without convolutions)",
           float(EMNIST_CONV_PADDING_FLOPS), minimum=0, minimum_inclusive=True, nonnegative=True, maximum=1e18),
    _input("augmented_fraction", "a", "1", "new samples made per original sample (augmentation plan)",
           _EMNIST_MIX["augmented_fraction"], minimum=0, minimum_inclusive=True, nonnegative=True, maximum=1000),
    _input("augmented_fraction_sd", "s_a", "1",
           "standard deviation across clients of the per-client augmented fraction",
           _EMNIST_MIX["augmented_fraction_sd"], minimum=0, minimum_inclusive=True, nonnegative=True, maximum=1000),
    _input("client_load_spread", "kappa_c", "x",
           "excess of the largest selected client over that of normally distributed client sizes (1: normal)",
           1.0, minimum=0, minimum_inclusive=True, nonnegative=True, maximum=100),
    _input("mediator_load_spread", "kappa", "x",
           "spread of the mediators' training loads over that of randomly grouped clients (1: random)",
           1.0, minimum=0, minimum_inclusive=True, nonnegative=True, maximum=100),
    _input("removed_fraction", "r", "1", "samples dropped by downsampling per original sample",
           _EMNIST_MIX["removed_fraction"], minimum=0, minimum_inclusive=True, maximum=1, maximum_inclusive=False, nonnegative=True),
    _input("uplink_bits_per_s", "b_up", "bit/s", "client uplink bandwidth (inf: in-process)",
           10e6, minimum=1, minimum_inclusive=True, maximum=1e15, allow_inf=True),
    _input("downlink_bits_per_s", "b_down", "bit/s", "client downlink bandwidth (inf: in-process)",
           20e6, minimum=1, minimum_inclusive=True, maximum=1e15, allow_inf=True),
    _input("server_bits_per_s", "b_srv", "bit/s", "server link bandwidth, shared by concurrent transfers",
           1e9, minimum=1, minimum_inclusive=True, maximum=1e15, allow_inf=True),
)

_COEFFICIENT_LIST: tuple[Quantity, ...] = tuple(
    _coefficient(spec.name, spec.symbol, spec.unit, spec.meaning, maximum=spec.maximum, minimum=spec.minimum,
                 nonnegative=spec.nonnegative)
    for spec in COEFFICIENT_TABLE)

#: What-if inputs (domain variables), by name, in a fixed order.
INPUTS: dict[str, Quantity] = {q.name: q for q in _INPUT_LIST}
#: Platform coefficients (fitted parameters), by name, in a fixed order.
COEFFICIENTS: dict[str, Quantity] = {q.name: q for q in _COEFFICIENT_LIST}
#: Inputs then coefficients.
QUANTITIES: dict[str, Quantity] = {**INPUTS, **COEFFICIENTS}
#: Symbol of each name, and name of each symbol.
SYMBOL_OF: dict[str, sp.Symbol] = {name: q.symbol for name, q in QUANTITIES.items()}
NAME_OF: dict[sp.Symbol, str] = {q.symbol: name for name, q in QUANTITIES.items()}

if len(NAME_OF) != len(QUANTITIES):  # pragma: no cover - a guard against a duplicated symbol name
    raise RuntimeError("two quantities share a symbol")


def sym(name: str) -> sp.Symbol:
    """Return the symbol of the input or coefficient ``name``.

    Raises
    ------
    InputError
        If ``name`` is neither an input nor a coefficient.
    """
    try:
        return SYMBOL_OF[name]
    except KeyError:
        raise InputError(f"'{name}' is not an input or coefficient of the cost model "
                         f"(known: {', '.join(sorted(QUANTITIES))}).") from None


def _python_number(value: Any) -> Any:
    """A numpy scalar as the plain Python number, so messages read ``(got 0)``."""
    return value.item() if isinstance(value, np.generic) else value


#: Integer inputs travel as float64 arrays: beyond 2**53 they would no longer be exact.
MAX_EXACT_INTEGER = 2**53


def check_input_value(name: str, value: Any, *, label: str | None = None, typed: Any = None) -> float | int:
    """Validate one value of input or coefficient ``name`` against its rule and return it.

    Integers come back as ``int``, everything else as ``float``. ``label`` is the name the message
    shows (default ``name``; the command line passes the option as typed) and ``typed`` the value it
    shows (default ``value``; the command line passes the text as typed).

    Raises
    ------
    InputError
        ``'clients_per_round' must be >= 1 (got 0).`` and the like.
    """
    quantity = QUANTITIES[name]
    value = _python_number(value)
    shown = name if label is None else label
    got = value if typed is None else typed
    if isinstance(value, bool):
        raise must(shown, "be a number", got)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise must(shown, "be a number", got) from None
    if math.isnan(number):
        raise must(shown, "be a number", got)
    if math.isinf(number) and not (quantity.allow_inf and number > 0):
        raise must(shown, "be finite" if not quantity.allow_inf else "be > 0 or inf", got)
    if quantity.integer and not number.is_integer():
        raise must(shown, "be an integer", got)
    if (number < quantity.minimum) or (number == quantity.minimum and not quantity.minimum_inclusive):
        raise must(shown, quantity.rule, got)
    if quantity.maximum is not None and not math.isinf(number) and (
            number > quantity.maximum or (number == quantity.maximum and not quantity.maximum_inclusive)):
        raise must(shown, quantity.upper_rule, got)
    return int(number) if quantity.integer else number


def check_input_array(name: str, values: Any) -> np.ndarray:
    """Validate an array of values of ``name`` at once; the message names the first bad value.

    Returns the values as a float64 array (integers are exactly representable up to 2**53).
    """
    quantity = QUANTITIES[name]
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise must(name, "be numbers", _first(values)) from None
    bad = np.isnan(array)
    if quantity.allow_inf:
        bad |= np.isneginf(array)
    else:
        bad |= np.isinf(array)
    if quantity.integer:
        with np.errstate(invalid="ignore"):
            bad |= (array != np.floor(array)) | (array > MAX_EXACT_INTEGER)
    bad |= (array < quantity.minimum) if quantity.minimum_inclusive else (array <= quantity.minimum)
    if quantity.maximum is not None:
        finite = np.isfinite(array)
        bad |= finite & ((array > quantity.maximum) if quantity.maximum_inclusive else (array >= quantity.maximum))
    if bad.any():
        raw = np.asarray(values).reshape(-1)[int(np.flatnonzero(bad.reshape(-1))[0])]
        check_input_value(name, raw)  # raises with the precise rule
        raise must(name, quantity.rule, _python_number(raw))  # pragma: no cover - defensive
    return array


def _first(values: Any) -> Any:
    try:
        return list(np.asarray(values, dtype=object).reshape(-1)[:1])[0]
    except Exception:  # pragma: no cover - defensive
        return values


def check_coefficients(coefficients: Mapping[str, float]) -> dict[str, float]:
    """Return the model's coefficients as floats, checked; extra keys are ignored.

    Every name of :data:`COEFFICIENTS` is required and must be a finite number > 0, or >= 0 for
    those the coefficient table marks nonnegative (the fixed per-event costs, the terms a fit may
    find absent, ``latency_s``), where a fitted 0 is legitimate (``link_efficiency`` also <= 1).

    Raises
    ------
    InputError
        ``'latency_s' must be given (a calibration supplies every coefficient).`` or
        ``'flops_per_s' must be > 0 (got -1.0).``
    """
    if not isinstance(coefficients, Mapping):
        raise must("coefficients", "be a mapping of coefficient names to numbers", type(coefficients).__name__)
    checked: dict[str, float] = {}
    for name in COEFFICIENTS:
        if name not in coefficients:
            raise InputError(f"'{name}' must be given (a calibration supplies every coefficient; "
                             f"got only {', '.join(sorted(coefficients)) or 'none'}).")
        checked[name] = float(check_input_value(name, coefficients[name]))
    return checked
