"""The building blocks every algorithm's phases are priced with (see :mod:`costmodel.model` for the
model as a whole): message sizes, transfers, shared links, mediators, a client visit's training,
augmentation, aggregation, rescheduling and storage.

The event costs come from their one statement (:mod:`costmodel.model.events`) with model quantities
substituted for the event's counts; only how many events there are, of what size, is said here.
Astraea is Duan et al., ICCD 2019 and IEEE TPDS 32(1), 2021; FedAvg is McMahan et al., AISTATS 2017.
"""

from __future__ import annotations

import sympy as sp

from costmodel.model.events import statement
from costmodel.model.order_statistic import BlomZ
from costmodel.model.quantities import sym

__all__ = [
    "STORED_BYTES_PER_VALUE",
    "WIRE_BYTES_PER_COUNT",
    "aggregation_seconds",
    "augmentation_seconds",
    "augmentation_seconds_per_client",
    "augmented_samples",
    "effective_samples",
    "effective_samples_sd",
    "mediator_clients",
    "mediators",
    "model_message_bytes",
    "optimizer_steps",
    "report_message_bytes",
    "rescheduling_seconds",
    "serialization_seconds",
    "shared_bandwidth",
    "storage_bytes_per_client",
    "training_seconds",
    "training_seconds_per_sample",
    "transfer_seconds",
]

#: Bytes per stored augmented value (float32 tensors).
STORED_BYTES_PER_VALUE = 4
#: Bytes per class count of a distribution report (int64).
WIRE_BYTES_PER_COUNT = 8

_N, _c, _K, _n, _s_n = (sym(x) for x in ("clients_total", "clients_per_round", "classes", "samples_per_client",
                                          "samples_per_client_sd"))
_E, _gamma, _B = sym("local_epochs"), sym("mediator_size"), sym("batch_size")
_P, _b_p, _h, _F, _V = (sym(x) for x in ("params", "bytes_per_param", "message_header_bytes",
                                          "train_flops_per_sample", "sample_values"))
_V_conv, _V_e, _N_node, _C_k, _F_pad = (sym(x) for x in ("conv_input_values", "elementwise_values",
                                                          "autograd_nodes", "conv_calls", "conv_padding_flops"))
_a, _s_a, _r = sym("augmented_fraction"), sym("augmented_fraction_sd"), sym("removed_fraction")
_b_srv = sym("server_bits_per_s")
_t_lat, _eta, _h_net = sym("latency_s"), sym("link_efficiency"), sym("message_overhead_bytes")


def model_message_bytes() -> sp.Expr:
    """Bytes of one model message on the wire format: ``|w| = h + P*b_p``."""
    return _h + _P * _b_p


def report_message_bytes() -> sp.Expr:
    """Bytes of one label-histogram report: ``h + 8*K`` (int64 counts)."""
    return _h + WIRE_BYTES_PER_COUNT * _K


def serialization_seconds(message_bytes: sp.Expr, *, upload: bool = False) -> sp.Expr:
    """Encode + decode of a ``W``-byte message, the serialization statement at ``bytes = W``:
    ``t_msg + t_ser*W + t_mem*Max(0, W - S_c)`` (a second, dearer regime once the message leaves the
    cache, ``S_c`` bytes, fitted), plus ``t_up0`` for a client upload (encoded right after training,
    on cold caches)."""
    return statement("serialization").at(bytes=message_bytes, upload=1 if upload else 0)


def transfer_seconds(message_bytes: sp.Expr, bandwidth_bits_per_s: sp.Expr, *, upload: bool = False) -> sp.Expr:
    """Time to move one message (alpha-beta model, as Calculon): the serialization
    (:func:`serialization_seconds`) plus the link, ``t_lat + 8*(W + h_net)/(eta*b)``.

    Parameters
    ----------
    message_bytes : sympy.Expr
        ``W``, bytes serialized (header + payload).
    bandwidth_bits_per_s : sympy.Expr
        ``b``, the link's nominal bandwidth; ``sympy.oo`` for an in-process transfer (no wire term).
    upload : bool
        A client upload (pays ``t_up0``).
    """
    return (serialization_seconds(message_bytes, upload=upload) + _t_lat
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
    ``s_n*(1 + a - r) + n*s_a`` (see :mod:`costmodel.model` for why a sum, not a root of squares)."""
    return _s_n * (1 + _a - _r) + _n * _s_a


def augmented_samples() -> sp.Expr:
    """Samples the slowest of the N clients augments: ``n*a + (s_n*a + n*s_a)*z_N``."""
    return _n * _a + (_s_n * _a + _n * _s_a) * BlomZ(_N)


def augmentation_seconds() -> sp.Expr:
    """Setup augmentation, bounded by the slowest of the N clients augmenting in parallel:
    ``t_aug0 + t_data*V*(n + s_n*z_N) + (t_aug*V + t_px*V/C_s)*(n*a + (s_n*a + n*s_a)*z_N)``: a fixed
    cost, a copy of the client's original data (the augmented samples are appended to it) and the
    affine warps of its ``n*a`` new samples, per pixel (the warped coordinates) and per value (the
    interpolation of each channel); each maximum taken apart: an upper bound."""
    return augmentation_seconds_per_client(_n + _s_n * BlomZ(_N), augmented_samples())


def augmentation_seconds_per_client(samples: sp.Expr, augmented: sp.Expr) -> sp.Expr:
    """One client's augmentation, the augmentation statement for ``m`` original samples (copied) and
    ``m_a`` new ones (warped): ``t_aug0 + t_data*V*m + m_a*(t_aug*V + t_px*V/C_s)``."""
    return statement("augmentation").at(augmented=augmented, client_samples=samples, sample_values=_V,
                                        sample_channels=sym("sample_channels"))


def aggregation_seconds(models: sp.Expr) -> sp.Expr:
    """Weighted average of ``m`` models at the server, accumulated in place into the global model,
    the aggregation statement at ``models = m``, ``params = P``:
    ``t_agg0 + t_agg_m*m + t_agg_P*P + P*m*(t_agg + t_agg_L*[P*b_p > S_agg])``.

    The server (``reference_impl``'s weighted average) scales the first model into the global
    model's buffer and adds each other one to it, one pass per model: a fixed cost, a call per model
    (``t_agg_m``, 1.4-1.8 us in the day's calibrations), the average's own parameters (``t_agg_P``,
    the first pass writes them: ~0.2 ns/param) and every model's parameters (``t_agg``, ~0.37
    ns/param). Beyond ``S_agg`` bytes per model (fitted at 0.63 or 1.26 MB, the midpoints either side
    of the sweep's 1.04 MB model: the sweep cannot tell them apart) the running average no longer
    stays in the core's cache between passes and every parameter of every model costs ``t_agg_L``
    more (0.05-0.08 ns/param; a step, fitted as the boundary between measured model sizes). Held
    out, averages of 0.15 M to 21 M parameter-models were predicted within 4.5-6% mean (``astraea-cost
    validate``). Before this form, a per-parameter-per-model rate with a regime on the stacked size
    (the models stacked, then averaged) missed 2 x 1.25 M parameters by 12%, 2 x 2.6 M by 11% and
    32 x 0.2 M by 23%.
    """
    return statement("aggregation").at(models=models, params=_P, bytes_per_param=_b_p)


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


def training_seconds(samples: sp.Expr, spread: sp.Expr = sp.S.Zero, *, proximal: bool = False) -> sp.Expr:
    """One client visit of E local epochs on ``m`` samples (clients spread by ``sigma``), the
    local-training statement at ``flops = E*m*F``, ``samples = E*m``, ``steps = E*steps(m, sigma)``:
    ``t_visit + E*m*((F + F_pad)/theta + V_c*t_conv + V_e*t_val) + E*steps(m, sigma)*(t_step + N*t_node
    + C_k*t_convcall + P*t_param)``
    (:func:`optimizer_steps`; ``steps = ceiling(m/B)`` for ``sigma = 0``), plus ``P*t_prox`` per step
    with a ``proximal`` term in the loss (FedProx)."""
    return statement("local_training").at(flops=_E * samples * _F, samples=_E * samples,
                                          steps=_E * optimizer_steps(samples, spread), params=_P,
                                          conv_input_values=_V_conv, elementwise_values=_V_e,
                                          autograd_nodes=_N_node, conv_calls=_C_k, conv_padding_flops=_F_pad,
                                          proximal=1 if proximal else 0)


def training_seconds_per_sample(*, proximal: bool = False) -> sp.Expr:
    """Slope of client training time in its sample count (ceilings relaxed), the derivative of
    :func:`training_seconds`: ``s = E*((F + F_pad)/theta + V_c*t_conv + V_e*t_val)
    + E*(t_step + N*t_node + C_k*t_convcall + P*t_param)/B``
    (``+ E*P*t_prox/B`` with a proximal term)."""
    m = sp.Symbol("m", positive=True)
    return sp.diff(training_seconds(m, proximal=proximal).replace(sp.ceiling, lambda argument: argument), m)


def rescheduling_seconds() -> sp.Expr:
    """Greedy mediator formation over the round's c clients, the rescheduling statement at c greedy
    steps, ``c*(c + 1)/2`` candidate evaluations and ``K_c*c*(c - M)/2`` class updates (every step
    that adds a client to a mediator that stays open updates each remaining candidate's ``K_c``
    classes; ``M`` steps open a mediator instead):
    ``t_resch0 + t_greedy*c + t_KL*c*(c + 1)/2 + t_cls*K_c*c*(c - M)/2``."""
    return statement("rescheduling").at(clients=_c, kl_evaluations=_c * (_c + 1) / 2,
                                        class_updates=sym("classes_per_client") * _c * (_c - mediators()) / 2)


def storage_bytes_per_client() -> sp.Expr:
    """Net extra storage per client: augmented samples kept, downsampled ones deleted,
    ``4*n*(a - r)*V`` bytes (float32; negative when downsampling removes more than augmentation adds)."""
    return STORED_BYTES_PER_VALUE * _n * (_a - _r) * _V
