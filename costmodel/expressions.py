"""The symbolic cost of Astraea and FedAvg, phase by phase, and of Astraea's overhead over FedAvg.

The protocols are those of Astraea (Duan et al., ICCD 2019; TPDS 32(1), 2021: setup = distribution
report, augmentation plan, augmentation; per round = rescheduling into mediators of gamma clients,
sequential SGD through each mediator's clients for E_m mediator epochs, weighted average of the
mediators' updates) and FedAvg (McMahan et al., AISTATS 2017: c clients train E epochs in parallel,
weighted average). Symbols are those of :mod:`costmodel.symbols`; every expression is in SI units
(seconds, bytes, FLOP).

Building blocks
---------------
* Model message ``W = h + P*b_p`` bytes; histogram report ``h + 8*K`` bytes (int64 counts).
* Transfer of a ``W``-byte message over a link of ``b`` bit/s (alpha-beta model, as Calculon):
  ``t = t_msg + t_lat + t_ser*W + t_mem*Max(0, W - S_c) + 8*(W + h_net)/(eta*b)``: a per-message
  software cost ``t_msg`` (encode/decode of the header, calls; paid in process too), the link's
  latency ``t_lat`` (0 for an in-process transfer and on emulated links), (de)serialization in two
  regimes (``t_ser`` per byte, plus ``t_mem`` per byte beyond ``S_c``, where the message no longer
  fits the cache: measured ~0.15 ns/B below ~330 kB and ~0.27 ns/B above), and the wire.
  A client upload adds ``t_up0`` (~38 us measured): the model is encoded right after training,
  on cold caches. ``b = inf`` (in-process) removes the wire term.
* Concurrent transfers share the server link: a client link ``b`` behaves as
  ``Min(b, b_srv/k)`` when ``k`` transfers run at once (``k = c`` for FedAvg, ``k = M`` for Astraea).
* Local training of one client visit on ``m`` samples:
  ``t_train(m) = t_visit + E*m*(t_samp + F/theta + V_c*t_conv) + E*ceiling(m/B)*(t_step + P*t_param)``.
  Chosen by measurement (one torch thread, ``time.thread_time``, Adam, B = 5..50): with a step's
  cost ``t_step + P*t_param + B*F/theta`` alone, fitted on the TPDS-layout family (widths
  0.25..3), the Keras cifar10_cnn (1.25 M parameters, 123 MFLOP per sample, conv-dominated) was
  mispredicted by 8..43% per step; adding a per-sample cost ``t_samp`` (~13 us: per-sample kernel
  work that FLOPs do not count) predicts it within 1..15% (mean 8%) and width 6.5 within 8.5%
  without fitting either. Splitting ``F`` into convolution and dense FLOPs made the Keras CNN
  worse (28..69%): the scaled family's small convolutions run at a lower FLOP rate than its
  large ones, so one ``F`` is kept. ``t_visit`` is a fixed cost per visit (optimizer state).
  ``V_c*t_conv`` prices the values entering the convolutions (``conv_input_values``: a CPU
  convolution reads, unfolds and back-propagates through its whole input, memory traffic a FLOP
  count does not see). A one-off fit of the 2026-11-24 sweep's visits with and without it,
  predicting the held-out visits at their own sizes: the Keras cifar10_cnn from 21% and 19% off
  to 1.0% and 0.5%, the TPDS family's held-out visits from 5.5% to 5.0% mean; of the other
  activation counts tried (all layer outputs, ReLU outputs, conv outputs) none did as well.
* Heterogeneous clients. Client time is (ceilings relaxed) linear in its sample count with slope
  ``s = E*F/theta + E*(t_step + P*t_param)/B``, so a client's training time has mean
  ``t_train(n)`` and standard deviation ``s*s_n``. The largest of ``k`` iid normal times is
  ``mean + sd*z_k`` with Blom's approximation ``z_k = Phi^-1((k - 3/8)/(k + 1/4))``
  (:class:`BlomZ`; ``z_1 = 0``). Astraea trains on ``n_eff = n*(1 + a - r)`` samples, whose spread
  is ``s_n*(1 + a - r) + n*s_a`` (:func:`effective_samples_sd`): the spread of the original sizes,
  grown by the plan, plus the spread ``s_a`` of each client's own augmented fraction (augmentation
  lands on the clients holding rare classes, so equal clients train on unequal data). The two are
  added, as if fully correlated: an upper bound of the independent case
  ``sqrt((s_n*(1 + a - r))**2 + (n*s_a)**2)`` by at most sqrt(2), chosen because the root has no
  derivative at ``s_n = s_a = 0`` (the presets), where sensitivities are asked. A mediator's pass
  sums ``g`` clients (mean ``g*m``, sd ``kappa*sqrt(g)*sd``) and its E_m passes repeat the same
  clients, so both scale by ``E_m``. ``kappa`` (``mediator_load_spread``, default 1) is 1 for
  randomly grouped clients; the greedy rescheduling gathers large and augmented clients into the
  first mediators it fills, so with unequal clients the loads spread more (kappa = 1.85 for log-normal client sizes of sigma 0.5, 0.9-1.3 for equal clients,
  :func:`calibration.scenario.scenario_from_workload`).
* Timing jitter. Visits of the same size do not take the same time (measured: 4-5% relative
  standard deviation on one thread of a shared machine; on real devices more). With many
  clients the slowest one is the one that drew the longest time, so the round waits
  ``z_k*cv_t*t_train`` more (``cv_t``, fitted: the spread of equal-size visits within a run). It
  is added to the size spread term (the same upper-bound choice as above). In a mediator the
  ``E_m*g`` visits draw independently: ``sqrt(E_m*g)*cv_t*t_train``. Without it, FedAvg rounds
  of 32..80 equal clients were under-predicted by 10-13%.

Round time along the protocol (each phase's ``seconds`` is its contribution to the critical path;
they add up to the round time)
* FedAvg: ``max over c clients (download + train + upload) + aggregation`` =
  ``t_down + t_train(n) + (s*s_n*kappa_c + cv_t*t_train(n))*z_c + t_up + t_aggr(c)`` with the in-place
  average of m models ``t_aggr(m) = t_agg0 + t_agg_m*m + t_agg_P*P + t_agg*P*m`` (plus ``t_agg_L*P*m``
  for models beyond ``S_agg`` bytes; :func:`aggregation_seconds`).
* Astraea, with ``M = ceiling(c/gamma)`` mediators of ``g = Min(gamma, c)`` clients:
  ``rescheduling + broadcast + max over M mediators of E_m*sum over g clients (download + train +
  upload) + mediator upload + aggregation`` =
  ``t_resched + t_bcast + E_m*g*(t_down + t_train(n_eff) + t_up)
  + (E_m*sqrt(g)*s*kappa*(s_n*(1+a-r) + n*s_a) + sqrt(E_m*g)*cv_t*t_train(n_eff))*z_M + t_mup
  + t_aggr(M)``.

Choices where the papers are silent (documented, tested)
* Mediators are virtual and hosted on the FL server (the papers allow the server or an edge
  server). Mediator<->client messages therefore cross the server link, shared by the M mediators
  that transfer at once. ``model_broadcast`` (server -> mediators) and ``mediator_upload``
  (mediators -> server) stay inside the server: the papers count them in traffic, so their bytes
  count (``M*W`` each), and their time is one message without a link term,
  ``t_msg + t_lat + t_ser*W + t_mem*Max(0, W - S_c)``.
* Rescheduling runs in every round over that round's c clients (the papers' O(c^2)): a fixed
  cost, c greedy steps and ``c*(c+1)/2`` candidate evaluations of K KL terms each,
  ``t_resch0 + t_greedy*c + t_KL*K*c*(c + 1)/2``. The augmentation plan is ``t_plan0 + t_plan*K``.
* The slowest mediator is modelled as a full one (``g`` clients) and the order statistic runs
  over all M mediators, even when the last mediator holds fewer clients: a slight overestimate
  when gamma does not divide c. With c < gamma there is one mediator of c clients.
* Steps per epoch are averaged over the spread clients (:func:`optimizer_steps`): the ceiling
  at the mean for equal clients, the uniform-remainder mean ``m/B + (B - 1)/(2*B)`` once sizes
  spread over half a batch or more, linear in between.
* The distribution report: all ``N`` clients send their ``h + 8*K``-byte histogram at once over
  their uplink, sharing the server link like every other concurrent transfer; the time is one such
  transfer. The augmentation plan's ratios are not sent back in the phase vocabulary, so they are
  not counted.
* Augmentation: each client augments its own ``n*a`` samples in parallel and appends them to a
  copy of its data; the slowest of the N clients bounds the phase (:func:`augmentation_seconds`):
  ``t_aug0 + t_data*V*(n + s_n*z_N) + t_aug*V*(n*a + (s_n*a + n*s_a)*z_N)``. Its FLOPs are not
  counted (0).
* Storage: the augmented samples are kept as float32 tensors, ``n*a*V*4`` bytes per client
  (:func:`storage_bytes_per_client`); downsampled samples are skipped in training, not deleted.
* FedAvg has no setup; rescheduling, broadcast and mediator upload are zero for FedAvg.

Overhead = Astraea - FedAvg in the four categories of :data:`costmodel.phases.CATEGORIES`
(:func:`overhead`); per round, with ``T_A = t_train(n_eff)``, ``T_F = t_train(n)``:

* ``training_compute = E_m*T_A - T_F``: the device compute one client visit chain adds (E_m passes
  over the augmented data instead of one pass over the original data).
* ``coordination = (g - 1)*E_m*T_A`` (sequential chaining inside a mediator) ``+ t_resched``
  ``+ (E_m*sqrt(g)*s*kappa*(s_n*(1+a-r) + n*s_a)*z_M - s*s_n*kappa_c*z_c)`` (slowest mediator vs slowest
  client) ``+ (t_agg_m + P*t_agg)*(M - c)`` (aggregation difference, with ``t_agg_L`` beyond
  ``S_agg``; the fixed ``t_agg0`` and the average's own ``t_agg_P*P`` cancel).
* ``communication = (t_bcast + E_m*g*(t_down_A + t_up_A) + t_mup) - (t_down_F + t_up_F)``; bytes:
  Astraea's round bytes minus FedAvg's, ``2*W*(M + E_m*c) - 2*W*c``.
* ``data_augmentation = 0`` per round; in setup it is all of Astraea's setup (report, plan,
  augmentation), bytes are the reports ``N*(h + 8*K)``, plus ``storage_bytes`` per client.

The four categories sum exactly to ``round_seconds('astraea') - round_seconds('fedavg')`` (and to
the setup and total differences). Totals: ``setup + R*round``.

Paper formulas, kept as their own expressions to confront: time per round FedAvg ``E*T``, Astraea
``E_m*gamma*E*T`` (ratio ``E_m*gamma``); traffic per round FedAvg ``2*c*|w|``, Astraea
``2*|w|*(ceiling(c/gamma) + c)``, which lacks the E_m of ours, ``2*|w|*(ceiling(c/gamma) + E_m*c)``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist
from types import MappingProxyType

import numpy as np
import sympy as sp

from costmodel.errors import InputError
from costmodel.phases import ALGORITHMS, CATEGORIES, ROUND_PHASES, SETUP_PHASES
from costmodel.symbols import sym

__all__ = [
    "BlomZ",
    "MODEL_PHASES",
    "OVERHEAD_SCOPES",
    "OverheadCost",
    "PHASE_SCOPE",
    "PhaseCost",
    "STORED_BYTES_PER_VALUE",
    "aggregation_seconds",
    "augmentation_seconds",
    "augmentation_seconds_per_client",
    "augmented_samples",
    "blom_z_values",
    "communication_seconds",
    "compute_seconds",
    "effective_samples",
    "effective_samples_sd",
    "mediator_clients",
    "mediators",
    "model_message_bytes",
    "optimizer_steps",
    "overhead",
    "paper_round_bytes",
    "paper_round_seconds",
    "paper_time_ratio",
    "phase_costs",
    "report_message_bytes",
    "rescheduling_seconds",
    "round_bytes",
    "round_seconds",
    "serialization_seconds",
    "setup_bytes",
    "setup_seconds",
    "shared_bandwidth",
    "storage_bytes_per_client",
    "total_bytes",
    "total_seconds",
    "training_seconds",
    "training_seconds_per_sample",
    "transfer_seconds",
]

#: Every phase the model prices, setup first, in the vocabulary's order (evaluation is outside).
MODEL_PHASES: tuple[str, ...] = SETUP_PHASES + ROUND_PHASES
#: Whether a phase is paid once (``setup``) or every round (``round``). Rescheduling runs every round.
PHASE_SCOPE: dict[str, str] = {
    **{phase: "setup" for phase in SETUP_PHASES if phase != "rescheduling"},
    "rescheduling": "round",
    **{phase: "round" for phase in ROUND_PHASES},
}
#: Scopes of the overhead decomposition.
OVERHEAD_SCOPES: tuple[str, ...] = ("round", "setup", "total")
#: Bytes per stored augmented value (float32 tensors).
STORED_BYTES_PER_VALUE = 4

# Inputs.
_N, _c, _K, _n, _s_n = (sym(x) for x in ("clients_total", "clients_per_round", "classes", "samples_per_client",
                                          "samples_per_client_sd"))
_E, _E_m, _gamma, _B, _R = (sym(x) for x in ("local_epochs", "mediator_epochs", "mediator_size", "batch_size",
                                              "rounds"))
_P, _b_p, _h, _F, _V = (sym(x) for x in ("params", "bytes_per_param", "message_header_bytes",
                                          "train_flops_per_sample", "sample_values"))
_a, _s_a, _r = sym("augmented_fraction"), sym("augmented_fraction_sd"), sym("removed_fraction")
_kappa, _kappa_c = sym("mediator_load_spread"), sym("client_load_spread")
_b_up, _b_down, _b_srv = sym("uplink_bits_per_s"), sym("downlink_bits_per_s"), sym("server_bits_per_s")
# Coefficients.
_theta, _t_step, _t_param = sym("flops_per_s"), sym("step_overhead_s"), sym("step_s_per_param")
_t_aug, _t_plan, _t_kl, _t_greedy = (sym(x) for x in ("augment_s_per_value", "augment_plan_s_per_class",
                                                       "kl_s_per_term", "reschedule_s_per_step"))
_t_agg, _t_ser, _t_lat = sym("aggregate_s_per_param"), sym("serialize_s_per_byte"), sym("latency_s")
_eta, _h_net = sym("link_efficiency"), sym("message_overhead_bytes")
_t_samp, _t_visit, _t_msg = sym("train_s_per_sample"), sym("train_s_per_visit"), sym("message_s")
_V_conv, _t_conv = sym("conv_input_values"), sym("train_s_per_conv_value")
_cv_t = sym("train_time_cv")
_t_agg_large, _S_agg = sym("aggregate_s_per_large_param"), sym("aggregate_large_bytes")
_t_agg_model, _t_agg_out = sym("aggregate_s_per_model"), sym("aggregate_s_per_output_param")
_t_aug0, _t_plan0, _t_resch0, _t_agg0 = (sym(x) for x in ("augment_s_per_client", "augment_plan_s",
                                                         "reschedule_s_per_round", "aggregate_s_per_round"))
_t_data, _t_mem, _S_c, _t_up0 = (sym(x) for x in ("augment_s_per_data_value", "serialize_s_per_uncached_byte",
                                                 "cache_bytes", "upload_message_s"))


# --------------------------------------------------------------------------- order statistic

class BlomZ(sp.Function):
    r"""Blom's approximation of the expected largest of ``k`` standard normal draws.

    ``z_k = Phi^-1((k - 3/8)/(k + 1/4))`` (Blom 1958), so ``z_1 = 0``, ``z_10 = 1.547``,
    ``z_50 = 2.241``. Exact for k = 1 and within 0.02 of the true expectation for k <= 1000.

    Symbolically it stays unevaluated (``evalf`` goes through ``sqrt(2)*erfinv(2p - 1)``); its
    derivative is ``sqrt(2*pi)*exp(z_k**2/2)*(5/8)/(k + 1/4)**2``. Numerically, :func:`blom_z_values`.
    """

    is_real = True

    @classmethod
    def eval(cls, k: sp.Expr) -> sp.Expr | None:
        if k.is_Number and k == 1:
            return sp.S.Zero
        return None

    def _eval_is_nonnegative(self) -> bool | None:
        k = self.args[0]
        return True if (k - 1).is_nonnegative else None

    def _eval_rewrite_as_erfinv(self, k: sp.Expr, **kwargs: object) -> sp.Expr:
        p = (k - sp.Rational(3, 8)) / (k + sp.Rational(1, 4))
        return sp.sqrt(2) * sp.erfinv(2 * p - 1)

    def _eval_evalf(self, prec: int) -> sp.Expr | None:
        k = self.args[0]
        if not k.is_number:
            return None
        return self._eval_rewrite_as_erfinv(k)._eval_evalf(prec)

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        k = self.args[0]
        return sp.sqrt(2 * sp.pi) * sp.exp(self**2 / 2) * sp.Rational(5, 8) / (k + sp.Rational(1, 4))**2

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return r"z_{%s}" % printer._print(self.args[0])


# Wichura (1988), Algorithm AS241 "The percentage points of the normal distribution" (PPND16),
# the algorithm behind statistics.NormalDist.inv_cdf, here vectorized with numpy.
_AS241_CENTRAL = (
    (2509.0809287301226727, 33430.575583588128105, 67265.770927008700853, 45921.953931549871457,
     13731.693765509461125, 1971.5909503065514427, 133.14166789178437745, 3.387132872796366608),
    (5226.495278852545925, 28729.085735721942674, 39307.89580009271061, 21213.794301586595867,
     5394.1960214247511077, 687.1870074920579083, 42.313330701600911252, 1.0),
)
_AS241_INTERMEDIATE = (
    (7.7454501427834140764e-4, 0.0227238449892691845833, 0.24178072517745061177, 1.27045825245236838258,
     3.64784832476320460504, 5.7694972214606914055, 4.6303378461565452959, 1.42343711074968357734),
    (1.05075007164441684324e-9, 5.475938084995344946e-4, 0.0151986665636164571966, 0.14810397642748007459,
     0.68976733498510000455, 1.6763848301838038494, 2.05319162663775882187, 1.0),
)
_AS241_TAIL = (
    (2.01033439929228813265e-7, 2.71155556874348757815e-5, 0.0012426609473880784386, 0.026532189526576123093,
     0.29656057182850489123, 1.7848265399172913358, 5.4637849111641143699, 6.6579046435011037772),
    (2.04426310338993978564e-15, 1.4215117583164458887e-7, 1.8463183175100546818e-5, 7.868691311456132591e-4,
     0.0148753612908506148525, 0.13692988092273580531, 0.59983220655588793769, 1.0),
)


def _normal_quantile(p: np.ndarray) -> np.ndarray:
    """``Phi^-1(p)`` for an array of probabilities in (0, 1), AS241 (relative error ~1e-16)."""
    p = np.asarray(p, dtype=np.float64)
    q = p - 0.5
    out = np.empty_like(p)
    central = np.abs(q) <= 0.425
    if central.any():
        qc = q[central]
        rc = 0.180625 - qc * qc
        out[central] = qc * np.polyval(_AS241_CENTRAL[0], rc) / np.polyval(_AS241_CENTRAL[1], rc)
    tails = ~central
    if tails.any():
        qt = q[tails]
        rt = np.sqrt(-np.log(np.where(qt <= 0.0, p[tails], 1.0 - p[tails])))
        value = np.empty_like(rt)
        near = rt <= 5.0
        rn = rt[near] - 1.6
        value[near] = np.polyval(_AS241_INTERMEDIATE[0], rn) / np.polyval(_AS241_INTERMEDIATE[1], rn)
        rf = rt[~near] - 5.0
        value[~near] = np.polyval(_AS241_TAIL[0], rf) / np.polyval(_AS241_TAIL[1], rf)
        out[tails] = np.where(qt < 0.0, -value, value)
    return out


@functools.lru_cache(maxsize=8)
def _blom_table(size: int) -> np.ndarray:
    """``z_k`` for k = 0..size-1 (entry 0 unused, NaN)."""
    k = np.arange(size, dtype=np.float64)
    table = np.full(size, np.nan)
    table[1:] = _normal_quantile((k[1:] - 0.375) / (k[1:] + 0.25))
    table[1] = 0.0
    return table


_BLOM_TABLE_LIMIT = 1 << 20


def blom_z_values(k: object) -> np.ndarray | float:
    """Numeric :class:`BlomZ`: ``Phi^-1((k - 0.375)/(k + 0.25))`` for scalars or arrays, k >= 1.

    Whole ``k`` up to 2**20 (client and mediator counts) are looked up in a table computed once
    with AS241; other values are computed directly (also AS241), so the result is the same.
    """
    array = np.asarray(k, dtype=np.float64)
    if array.ndim == 0:
        value = float(array)
        return 0.0 if value == 1.0 else NormalDist().inv_cdf((value - 0.375) / (value + 0.25))
    if array.size and 1.0 <= array.min() and array.max() < _BLOM_TABLE_LIMIT:  # NaN fails both tests
        whole = array.astype(np.int64)
        if np.array_equal(whole, array):
            size = 1 << max(10, int(whole.max()).bit_length())
            return _blom_table(size)[whole]
    with np.errstate(invalid="ignore"):  # NaN or inf k gives NaN, as numpy does, without a warning
        return _normal_quantile((array - 0.375) / (array + 0.25))


# --------------------------------------------------------------------------- building blocks

def model_message_bytes() -> sp.Expr:
    """Bytes of one model message on the wire format: ``|w| = h + P*b_p``."""
    return _h + _P * _b_p


def report_message_bytes() -> sp.Expr:
    """Bytes of one label-histogram report: ``h + 8*K`` (int64 counts)."""
    return _h + 8 * _K


def serialization_seconds(message_bytes: sp.Expr) -> sp.Expr:
    """Encode + decode of a ``W``-byte message: ``t_ser*W + t_mem*Max(0, W - S_c)``: a second,
    dearer regime once the message leaves the cache (``S_c`` bytes, fitted)."""
    return _t_ser * message_bytes + _t_mem * sp.Max(0, message_bytes - _S_c)


def transfer_seconds(message_bytes: sp.Expr, bandwidth_bits_per_s: sp.Expr, *, upload: bool = False) -> sp.Expr:
    """Time to move one message:
    ``t_msg + t_lat + t_ser*W + t_mem*Max(0, W - S_c) + 8*(W + h_net)/(eta*b)``, plus ``t_up0`` for
    a client upload (``upload=True``: the model is encoded right after training, on cold caches).

    Parameters
    ----------
    message_bytes : sympy.Expr
        ``W``, bytes serialized (header + payload).
    bandwidth_bits_per_s : sympy.Expr
        ``b``, the link's nominal bandwidth; ``sympy.oo`` for an in-process transfer.
    """
    extra = _t_up0 if upload else sp.S.Zero
    return (_t_msg + extra + _t_lat + serialization_seconds(message_bytes)
            + 8 * (message_bytes + _h_net) / (_eta * bandwidth_bits_per_s))


def shared_bandwidth(link_bits_per_s: sp.Expr, concurrent: sp.Expr) -> sp.Expr:
    """A client link's effective bandwidth when ``concurrent`` transfers share the server link:
    ``Min(b, b_srv/k)``."""
    return sp.Min(link_bits_per_s, _b_srv / concurrent)


def mediators() -> sp.Expr:
    """Mediators per round: ``M = ceiling(c/gamma)``."""
    return sp.ceiling(_c / _gamma)


def mediator_clients() -> sp.Expr:
    """Clients of the slowest (a full) mediator: ``g = Min(gamma, c)``."""
    return sp.Min(_gamma, _c)


def effective_samples() -> sp.Expr:
    """Samples an Astraea client trains on after augmentation and downsampling: ``n*(1 + a - r)``."""
    return _n * (1 + _a - _r)


def effective_samples_sd() -> sp.Expr:
    """Spread across clients of the samples an Astraea client trains on:
    ``s_n*(1 + a - r) + n*s_a`` (see the module docstring for why a sum, not a root of squares)."""
    return _s_n * (1 + _a - _r) + _n * _s_a


def augmented_samples() -> sp.Expr:
    """Samples the slowest of the N clients augments: ``n*a + (s_n*a + n*s_a)*z_N``."""
    return _n * _a + (_s_n * _a + _n * _s_a) * BlomZ(_N)


def augmentation_seconds() -> sp.Expr:
    """Setup augmentation, bounded by the slowest of the N clients augmenting in parallel:
    ``t_aug0 + t_data*V*(n + s_n*z_N) + t_aug*V*(n*a + (s_n*a + n*s_a)*z_N)``: a fixed cost, a copy
    of the client's original data (the augmented samples are appended to it) and the affine
    warps of its ``n*a`` new samples (each maximum taken apart: an upper bound)."""
    return augmentation_seconds_per_client(_n + _s_n * BlomZ(_N), augmented_samples())


def augmentation_seconds_per_client(samples: sp.Expr, augmented: sp.Expr) -> sp.Expr:
    """One client's augmentation: ``t_aug0 + t_data*V*m + t_aug*V*m_a`` for ``m`` original samples
    (copied) and ``m_a`` new ones (warped)."""
    return _t_aug0 + _t_data * _V * samples + _t_aug * _V * augmented


def aggregation_seconds(models: sp.Expr) -> sp.Expr:
    """Weighted average of ``m`` models at the server, accumulated in place into the global model:
    ``t_agg0 + t_agg_m*m + t_agg_P*P + P*m*(t_agg + t_agg_L*[P*b_p > S_agg])``.

    The server (``reference_impl.aggregation.weighted_average``) scales the first model into the
    global model's buffer and adds each other one to it, one pass per model: a fixed cost, a call
    per model (``t_agg_m``, 1.4-1.8 us in the day's calibrations), the average's own parameters
    (``t_agg_P``, the first pass writes them: ~0.2 ns/param) and every model's parameters
    (``t_agg``, ~0.37 ns/param). Beyond ``S_agg`` bytes per model (fitted at 0.63 or 1.26 MB, the
    midpoints either side of the sweep's 1.04 MB model: the sweep cannot tell them apart) the running
    average no longer stays in the core's cache between passes and every parameter of every model
    costs ``t_agg_L`` more (0.05-0.08 ns/param; a step, fitted as the boundary between measured
    model sizes). Fitted on one torch thread on the aggregation rows of the calibration sweep;
    held out, averages of 0.15 M to 21 M parameter-models were predicted within 4.5-6% mean
    (``astraea-cost validate``). Before this form, a per-parameter-per-model rate with a regime on
    the stacked size (the models stacked, then averaged) missed 2 x 1.25 M parameters by 12%,
    2 x 2.6 M by 11% and 32 x 0.2 M by 23%.
    """
    regime = sp.Piecewise((0, _P * _b_p <= _S_agg), (1, True))
    return _t_agg0 + _t_agg_model * models + _t_agg_out * _P + _P * models * (_t_agg + _t_agg_large * regime)


def optimizer_steps(samples: sp.Expr, spread: sp.Expr = sp.S.Zero) -> sp.Expr:
    """Mini-batch steps of one epoch of a client with ``m`` samples, averaged over clients whose
    sizes spread by ``sigma`` around ``m``:
    ``(1 - w)*ceiling(m/B) + w*(m/B + (B - 1)/(2*B))`` with ``w = Min(1, 2*sigma/B)``.

    The two ends are exact: equal clients (``sigma = 0``) all take ``ceiling(m/B)`` steps; sizes
    spread over a batch or more leave a remainder uniform over 1..B, so the mean is
    ``m/B + (B - 1)/(2*B)``; in between the weight moves linearly (a choice, no closed form). The
    ceiling at the mean alone over-predicted held-out visits by 14-20% where the mean sat just
    above a multiple of B (mean 24.2 at B = 12; 32.4 at B = 8) and most clients took one step fewer.
    """
    weight = sp.Min(1, 2 * spread / _B)
    return (1 - weight) * sp.ceiling(samples / _B) + weight * (samples / _B + (_B - 1) / (2 * _B))


def training_seconds(samples: sp.Expr, spread: sp.Expr = sp.S.Zero) -> sp.Expr:
    """One client visit of E local epochs on ``m`` samples (clients spread by ``sigma``):
    ``t_visit + E*m*(t_samp + F/theta + V_c*t_conv) + E*steps(m, sigma)*(t_step + P*t_param)``
    (:func:`optimizer_steps`; ``steps = ceiling(m/B)`` for ``sigma = 0``)."""
    return (_t_visit + _E * samples * _per_sample()
            + _E * optimizer_steps(samples, spread) * (_t_step + _P * _t_param))


def _per_sample() -> sp.Expr:
    """A training sample's own cost: ``t_samp + F/theta + V_c*t_conv``."""
    return _t_samp + _F / _theta + _V_conv * _t_conv


def training_seconds_per_sample() -> sp.Expr:
    """Slope of client training time in its sample count (ceiling relaxed):
    ``s = E*(t_samp + F/theta + V_c*t_conv) + E*(t_step + P*t_param)/B``."""
    return _E * _per_sample() + _E * (_t_step + _P * _t_param) / _B


def rescheduling_seconds() -> sp.Expr:
    """Greedy mediator formation over c clients: ``t_resch0 + t_greedy*c + t_KL*K*c*(c + 1)/2``."""
    return _t_resch0 + _t_greedy * _c + _t_kl * _K * _c * (_c + 1) / 2


def storage_bytes_per_client() -> sp.Expr:
    """Extra storage of augmented samples per client: ``4*n*a*V`` bytes (float32)."""
    return STORED_BYTES_PER_VALUE * _n * _a * _V


@dataclass(frozen=True)
class PhaseCost:
    """The cost of one phase: critical-path seconds, bytes on the wire, FLOPs (sympy expressions)."""

    seconds: sp.Expr
    bytes: sp.Expr
    flops: sp.Expr


@dataclass(frozen=True)
class OverheadCost:
    """One overhead category: seconds, bytes on the wire, and extra storage bytes per client."""

    seconds: sp.Expr
    bytes: sp.Expr
    storage_bytes: sp.Expr


@dataclass(frozen=True)
class _Parts:
    """The pieces the phases and the overhead categories are both built from."""

    download: sp.Expr          # one client download on the critical path
    upload: sp.Expr            # one client upload on the critical path
    chain: sp.Expr             # client visits in series on the critical path (1 or E_m*g)
    train: sp.Expr             # one visit's training time at the mean sample count
    straggler: sp.Expr         # order-statistic excess of the slowest client/mediator
    rescheduling: sp.Expr
    broadcast: sp.Expr
    mediator_upload: sp.Expr
    aggregation: sp.Expr


def _check_algorithm(algorithm: str) -> str:
    if algorithm not in ALGORITHMS:
        raise InputError(f"'algorithm' must be one of {', '.join(ALGORITHMS)} (got {algorithm!r}).")
    return algorithm


@functools.cache
def _parts(algorithm: str) -> _Parts:
    w = model_message_bytes()
    slope = training_seconds_per_sample()
    if algorithm == "fedavg":
        return _Parts(
            download=transfer_seconds(w, shared_bandwidth(_b_down, _c)),
            upload=transfer_seconds(w, shared_bandwidth(_b_up, _c), upload=True),
            chain=sp.S.One,
            train=training_seconds(_n, _s_n),
            straggler=(slope * _s_n * _kappa_c + _cv_t * training_seconds(_n, _s_n)) * BlomZ(_c),
            rescheduling=sp.S.Zero,
            broadcast=sp.S.Zero,
            mediator_upload=sp.S.Zero,
            aggregation=aggregation_seconds(_c),
        )
    m, g = mediators(), mediator_clients()
    in_server = transfer_seconds(w, sp.oo)
    return _Parts(
        download=transfer_seconds(w, shared_bandwidth(_b_down, m)),
        upload=transfer_seconds(w, shared_bandwidth(_b_up, m), upload=True),
        chain=_E_m * g,
        train=training_seconds(effective_samples(), effective_samples_sd()),
        straggler=(_E_m * sp.sqrt(g) * slope * effective_samples_sd() * _kappa
                   + sp.sqrt(_E_m * g) * _cv_t * training_seconds(effective_samples(), effective_samples_sd()))
                  * BlomZ(m),
        rescheduling=rescheduling_seconds(),
        broadcast=in_server,
        mediator_upload=in_server,
        aggregation=aggregation_seconds(m),
    )


# --------------------------------------------------------------------------- phases and totals

@functools.cache
def _phase_costs(algorithm: str) -> Mapping[str, PhaseCost]:
    parts = _parts(algorithm)
    w = model_message_bytes()
    zero = sp.S.Zero
    astraea = algorithm == "astraea"
    if astraea:
        visits = _E_m * _c                       # client visits per round, all mediators
        samples = effective_samples()
        m = mediators()
        setup = {
            "distribution_report": PhaseCost(
                transfer_seconds(report_message_bytes(), shared_bandwidth(_b_up, _N)),
                _N * report_message_bytes(), zero),
            "augmentation_plan": PhaseCost(_t_plan0 + _t_plan * _K, zero, zero),
            "augmentation": PhaseCost(augmentation_seconds(), zero, zero),
        }
    else:
        visits, samples, m = _c, _n, zero
        setup = {phase: PhaseCost(zero, zero, zero)
                 for phase in ("distribution_report", "augmentation_plan", "augmentation")}
    rounds = {
        "rescheduling": PhaseCost(parts.rescheduling, zero, zero),
        "model_broadcast": PhaseCost(parts.broadcast, m * w, zero),
        "client_download": PhaseCost(parts.chain * parts.download, visits * w, zero),
        "local_training": PhaseCost(parts.chain * parts.train + parts.straggler, zero,
                                    visits * _E * samples * _F),
        "client_upload": PhaseCost(parts.chain * parts.upload, visits * w, zero),
        "mediator_upload": PhaseCost(parts.mediator_upload, m * w, zero),
        "aggregation": PhaseCost(parts.aggregation, zero, zero),
    }
    costs = {**setup, **rounds}
    return MappingProxyType({phase: costs[phase] for phase in MODEL_PHASES})


def phase_costs(algorithm: str) -> Mapping[str, PhaseCost]:
    """Every phase of :data:`MODEL_PHASES` for ``algorithm`` (``'astraea'`` or ``'fedavg'``).

    Phases an algorithm does not have cost zero. Setup phases are paid once (see
    :data:`PHASE_SCOPE`); round phases every round. See the module docstring for each formula.
    """
    return _phase_costs(_check_algorithm(algorithm))


def _sum_phases(algorithm: str, scope: str, what: str) -> sp.Expr:
    costs = phase_costs(algorithm)
    return sp.Add(*(getattr(costs[phase], what) for phase in MODEL_PHASES if PHASE_SCOPE[phase] == scope))


@functools.cache
def round_seconds(algorithm: str) -> sp.Expr:
    """Round time: the sum of the round phases' critical-path seconds."""
    return _sum_phases(_check_algorithm(algorithm), "round", "seconds")


@functools.cache
def round_bytes(algorithm: str) -> sp.Expr:
    """Bytes on the wire per round: FedAvg ``2*c*W``; Astraea ``2*W*(M + E_m*c)``."""
    return _sum_phases(_check_algorithm(algorithm), "round", "bytes")


@functools.cache
def setup_seconds(algorithm: str) -> sp.Expr:
    """Setup time (once): distribution report + augmentation plan + augmentation; 0 for FedAvg."""
    return _sum_phases(_check_algorithm(algorithm), "setup", "seconds")


@functools.cache
def setup_bytes(algorithm: str) -> sp.Expr:
    """Setup bytes: the N histogram reports ``N*(h + 8*K)``; 0 for FedAvg."""
    return _sum_phases(_check_algorithm(algorithm), "setup", "bytes")


def total_seconds(algorithm: str) -> sp.Expr:
    """``setup_seconds + R*round_seconds``."""
    return setup_seconds(algorithm) + _R * round_seconds(algorithm)


def total_bytes(algorithm: str) -> sp.Expr:
    """``setup_bytes + R*round_bytes``."""
    return setup_bytes(algorithm) + _R * round_bytes(algorithm)


@functools.cache
def communication_seconds(algorithm: str) -> sp.Expr:
    """Round time spent in transfer phases on the critical path (broadcast, downloads, uploads,
    mediator upload)."""
    costs = phase_costs(algorithm)
    return sp.Add(*(costs[p].seconds for p in ("model_broadcast", "client_download", "client_upload",
                                               "mediator_upload")))


@functools.cache
def compute_seconds(algorithm: str) -> sp.Expr:
    """Round time spent computing on the critical path (rescheduling, local training,
    aggregation): ``round_seconds - communication_seconds``."""
    costs = phase_costs(algorithm)
    return sp.Add(*(costs[p].seconds for p in ("rescheduling", "local_training", "aggregation")))


# --------------------------------------------------------------------------- overhead

@functools.cache
def _round_overhead() -> Mapping[str, OverheadCost]:
    a, f = _parts("astraea"), _parts("fedavg")
    zero = sp.S.Zero
    training = _E_m * a.train - f.train
    coordination = ((mediator_clients() - 1) * _E_m * a.train + a.rescheduling
                    + (a.straggler - f.straggler) + (a.aggregation - f.aggregation))
    communication = ((a.broadcast + a.chain * (a.download + a.upload) + a.mediator_upload)
                     - (f.download + f.upload))
    return MappingProxyType({
        "training_compute": OverheadCost(training, zero, zero),
        "data_augmentation": OverheadCost(zero, zero, zero),
        "communication": OverheadCost(communication, round_bytes("astraea") - round_bytes("fedavg"), zero),
        "coordination": OverheadCost(coordination, zero, zero),
    })


@functools.cache
def _setup_overhead() -> Mapping[str, OverheadCost]:
    zero = sp.S.Zero
    costs = {category: OverheadCost(zero, zero, zero) for category in CATEGORIES}
    costs["data_augmentation"] = OverheadCost(setup_seconds("astraea") - setup_seconds("fedavg"),
                                              setup_bytes("astraea") - setup_bytes("fedavg"),
                                              storage_bytes_per_client())
    return MappingProxyType(costs)


@functools.cache
def _total_overhead() -> Mapping[str, OverheadCost]:
    per_round, setup = _round_overhead(), _setup_overhead()
    return MappingProxyType({
        category: OverheadCost(setup[category].seconds + _R * per_round[category].seconds,
                               setup[category].bytes + _R * per_round[category].bytes,
                               setup[category].storage_bytes)
        for category in CATEGORIES
    })


def overhead(scope: str = "round") -> Mapping[str, OverheadCost]:
    """Astraea minus FedAvg in the four categories, for ``scope`` ``'round'``, ``'setup'`` or ``'total'``.

    The categories' seconds (and bytes) sum exactly to the difference of the two algorithms'
    seconds (bytes) of that scope; see the module docstring for each formula. ``storage_bytes``
    (per client, ``4*n*a*V``) sits in ``data_augmentation`` for the setup and total scopes.
    """
    if scope == "round":
        return _round_overhead()
    if scope == "setup":
        return _setup_overhead()
    if scope == "total":
        return _total_overhead()
    raise InputError(f"'scope' must be one of {', '.join(OVERHEAD_SCOPES)} (got {scope!r}).")


# --------------------------------------------------------------------------- the papers' formulas

def paper_round_seconds(algorithm: str) -> sp.Expr:
    """The papers' time per round: FedAvg ``E*T``, Astraea ``E_m*gamma*E*T``, with ``T`` one local
    epoch on the original data, ``T = t_train(n)/E``. Augmentation and rescheduling are left out,
    as the papers call them negligible."""
    epoch = training_seconds(_n) / _E
    if _check_algorithm(algorithm) == "fedavg":
        return _E * epoch
    return _E_m * _gamma * _E * epoch


def paper_time_ratio() -> sp.Expr:
    """The papers' Astraea/FedAvg time per round: ``E_m*gamma``."""
    return _E_m * _gamma


def paper_round_bytes(algorithm: str) -> sp.Expr:
    """The papers' traffic per round: FedAvg ``2*c*|w|``; Astraea ``2*|w|*(ceiling(c/gamma) + c)``
    (no E_m, although every client receives and returns the model E_m times per round)."""
    w = model_message_bytes()
    if _check_algorithm(algorithm) == "fedavg":
        return 2 * _c * w
    return 2 * w * (mediators() + _c)

