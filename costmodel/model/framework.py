"""What a federated-learning framework adds to every phase of a protocol: Flower's per-message costs.

The model prices Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) and its baselines on a
bare transport: a transfer is ``t_msg + t_lat + t_ser*W + 8*(W + h_net)/(eta*b)``
(:func:`~costmodel.model.blocks.transfer_seconds`). On a framework, every message to a client also
pays what the framework does around it. For Flower 1.42 (:mod:`costmodel.contracts.framework_profile`,
fitted by ``astraea-cost flower-profile``):

* before the client works, ``t_fw_in`` (``dispatch_s``): the SuperLink queueing the instruction, the
  idle SuperNode polling for it (every 3 s), the SuperExec polling for the task (every 1 s); and
  ``t_fw_cpu`` CPU seconds (``dispatch_cpu_s``): a fresh ``flwr-clientapp`` process starting
  (Python, Flower, the app and torch) and the app loading its data and model. On a device of its
  own that CPU work takes its CPU time. On one host of ``C`` cores (``host_cores``; every SuperNode
  on one machine, as ``astraea-cost run --engine flower`` deploys them) that starts ``k`` messages at
  once while ``L`` other sessions want its cores, the cores are shared: Linux shares them fairly
  between sessions (its autogroups), the run's processes are one session, so the run gets
  ``C/(L + 1)`` cores for its ``k`` ClientApps and their wall time stretches by ``Max(1, k*(L + 1)/C)``;
* after the client's work, ``t_fw_out`` (``return_s``): the reply's encoding, the SuperNode polling
  for it, and the server's polling; and the server's object pulls: the reply appears at the server
  as soon as its upload starts, the server's pull finds its objects incomplete and retries after
  ``b_pull``, then after twice that, up to ``c_pull`` between retries (Flower's stock schedule, 1 s
  doubling to 10 s), so a reply whose upload takes ``u`` seconds is seen at the first retry time
  at or after ``u`` (:func:`seen_at`), not after ``u``;
* the polls' random phase: a message's dispatch and return seconds spread by ``s_fw``
  (``hop_sd_s``), and a round waits for the slowest of its ``k`` concurrent branches, each a sum of
  ``chain`` messages: ``sqrt(chain)*s_fw*z_k`` more (Blom's ``z_k``, as the model's own stragglers);
* Flower's framing of its content-addressed objects: an instruction carrying the model is
  ``W + f_in`` bytes, its reply ``W + f_out``, a distribution report ``h + 8*K + f_rep``; the framing
  also crosses the link.

Per phase (seconds on the critical path, bytes per round or setup), with ``d(k) = t_fw_in +
t_fw_cpu*Max(1, k*(L + 1)/C)`` on one host (``t_fw_in + t_fw_cpu`` on devices of their own), the
round's chain of ``E_m*g`` visits (1 for FedAvg), its ``visits``, its ``k`` concurrent branches
(``M`` mediators, or the c clients), the shared link rates ``b_down``, ``b_up`` of the protocol's
own transfers, ``u_up`` and ``u_rep`` the link seconds the framework-free model already prices for
an upload and a report (``8*(W + h_net)/(eta*b)``), and ``R`` the retry time of :func:`seen_at`:

==================  ===========================================================  ====================
phase               added seconds                                                added bytes
==================  ===========================================================  ====================
client_download     ``chain*(d(k) + 8*f_in/(eta*b_down)) + sqrt(chain)*s_fw*z_k``  ``visits*f_in``
client_upload       ``chain*(t_fw_out + R(u_up + 8*f_out/(eta*b_up)) - u_up)``   ``visits*f_out``
distribution_report ``d(N) + t_fw_out + R(u_rep + 8*f_rep/(eta*b_up(N)))``       ``N*f_rep``
                    ``- u_rep + s_fw*z_N``
augmentation        ``d(N) + t_fw_out + R(0) + s_fw*z_N``                        0
==================  ===========================================================  ====================

The server-side phases (rescheduling, the virtual mediators' broadcast and upload, aggregation,
the plan) and the training itself are the framework-free model's. Not priced: the control messages
(the report query, the augmentation request and reply, whose bytes are small), and a download that
outlasts the ClientApp's start (the ClientApp then waits for its own object-pull retries): the
profile is fitted where every download is shorter than a ClientApp's start.

In the overhead categories (:func:`framework_attributed_round`, the model's rule by cause): what a
visit gains belongs to its transfers, so the client's own ``passes`` visits' additions are
communication, the other ``chain - passes`` visits' and the slowest-branch wait are coordination;
the setup's additions are data augmentation and every added byte is communication.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import MappingProxyType

import sympy as sp

from costmodel.contracts.framework_profile import PROFILE_COEFFICIENTS
from costmodel.model import blocks as b
from costmodel.model.order_statistic import BlomZ
from costmodel.model.phase_costs import round_parts
from costmodel.model.protocols import PhaseCost, algorithm_cost, check_algorithm
from costmodel.model.quantities import sym

__all__ = ["FRAMEWORK_PHASES", "HOST_LOAD", "PULL_RETRIES", "framework_attributed_round", "framework_phase_costs",
           "profile_symbol", "seen_at"]

#: The phases a framework adds to.
FRAMEWORK_PHASES: tuple[str, ...] = ("distribution_report", "augmentation", "client_download", "client_upload")
#: Retries :func:`seen_at` follows (55 s with Flower's stock schedule); a longer upload is seen when it ends.
PULL_RETRIES = 8


def profile_symbol(name: str) -> sp.Symbol:
    """The symbol of profile coefficient ``name`` (:data:`~costmodel.contracts.framework_profile.PROFILE_COEFFICIENTS`)."""
    spec = next((s for s in PROFILE_COEFFICIENTS if s.name == name), None)
    if spec is None:
        raise ValueError(f"{name!r} is not a framework-profile coefficient.")
    return sp.Symbol(spec.symbol, nonnegative=True)


def seen_at(upload_s: sp.Expr) -> sp.Expr:
    """When the server has a reply whose upload takes ``u`` seconds: the first object-pull retry at or
    after ``u``, the retries at ``T_j = sum_{i<j} Min(b_pull*2**i, c_pull)`` (Flower pulls once when the
    reply appears, then retries with exponential backoff; the retry's +-20% jitter averages out), or
    ``u`` beyond :data:`PULL_RETRIES` retries."""
    first, cap = profile_symbol("pull_retry_s"), profile_symbol("pull_retry_cap_s")
    times, total = [], sp.S.Zero
    for i in range(PULL_RETRIES):
        total = total + sp.Min(first * 2**i, cap)
        times.append(total)
    return sp.Piecewise(*((time, upload_s <= time) for time in times), (upload_s, True))


#: The symbol of the other sessions that want the host's cores, ``L`` (one-host predictions).
HOST_LOAD = sp.Symbol("L_host", nonnegative=True)


def _dispatch(concurrent: sp.Expr, one_host: bool) -> sp.Expr:
    cpu = profile_symbol("dispatch_cpu_s")
    stretch = sp.Max(1, concurrent * (HOST_LOAD + 1) / profile_symbol("host_cores")) if one_host else 1
    return profile_symbol("dispatch_s") + cpu * stretch


def _wire(extra_bytes: sp.Expr, bandwidth: sp.Expr) -> sp.Expr:
    return 8 * extra_bytes / (sym("link_efficiency") * bandwidth)


def _return(message_bytes: sp.Expr, framing: sp.Expr, concurrent: sp.Expr) -> sp.Expr:
    """A reply's seconds beyond the framework-free transfer: ``t_fw_out + R(u + 8*f/(eta*b)) - u`` with
    ``u = 8*(W + h_net)/(eta*b)`` the link time the transfer already prices."""
    bandwidth = b.shared_bandwidth(sym("uplink_bits_per_s"), concurrent)
    priced = _wire(message_bytes + sym("message_overhead_bytes"), bandwidth)
    return profile_symbol("return_s") + seen_at(priced + _wire(framing, bandwidth)) - priced


def _visit_parts(algorithm: str, one_host: bool) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """What Flower adds to one visit on the critical path, before and after the client's work, and to
    the round's wait for its slowest branch: ``(d(k) + 8*f_in/(eta*b_down), t_fw_out + R(...) - u_up,
    sqrt(chain)*s_fw*z_k)`` (module docstring)."""
    parts = round_parts(algorithm)
    branches = sym("clients_per_round") if parts.mediators == 0 else parts.mediators
    before = _dispatch(branches, one_host) + _wire(profile_symbol("download_framing_bytes"),
                                                   b.shared_bandwidth(sym("downlink_bits_per_s"), branches))
    after = _return(b.model_message_bytes(), profile_symbol("upload_framing_bytes"), branches)
    return before, after, sp.sqrt(parts.chain) * profile_symbol("hop_sd_s") * BlomZ(branches)


@functools.cache
def framework_attributed_round(algorithm: str, *, one_host: bool = False) -> Mapping[str, sp.Expr]:
    """What Flower adds to ``algorithm``'s round seconds, split by the model's attribution rule
    (:data:`~costmodel.model.overhead.ATTRIBUTION_RULE`): a visit's additions belong to its transfers, so
    the client's own ``passes`` of them are communication and the other ``chain - passes`` visits the
    chain waits for, with the wait for the slowest branch, are coordination; Flower adds no training.
    The four sum to the round's additions of :func:`framework_phase_costs`."""
    algorithm = check_algorithm(algorithm)
    parts = round_parts(algorithm)
    before, after, straggler = _visit_parts(algorithm, one_host)
    zero = sp.S.Zero
    return MappingProxyType({
        "training_compute": zero,
        "data_augmentation": zero,
        "communication": parts.passes * (before + after),
        "coordination": (parts.chain - parts.passes) * (before + after) + straggler,
    })


@functools.cache
def framework_phase_costs(algorithm: str, *, one_host: bool = False) -> Mapping[str, PhaseCost]:
    """What Flower adds to each of :data:`FRAMEWORK_PHASES` of ``algorithm`` (module docstring), in the
    model's symbols and the profile's (:func:`profile_symbol`); ``one_host``: every client on one machine."""
    algorithm = check_algorithm(algorithm)
    parts = round_parts(algorithm)
    n_total = sym("clients_total")
    f_in, f_out = profile_symbol("download_framing_bytes"), profile_symbol("upload_framing_bytes")
    f_rep = profile_symbol("report_framing_bytes")
    t_out, s_fw = profile_symbol("return_s"), profile_symbol("hop_sd_s")
    before, after, straggler = _visit_parts(algorithm, one_host)
    zero = sp.S.Zero
    costs = {
        "client_download": PhaseCost(parts.chain * before + straggler, parts.visits * f_in, zero),
        "client_upload": PhaseCost(parts.chain * after, parts.visits * f_out, zero),
        "distribution_report": PhaseCost(zero, zero, zero),
        "augmentation": PhaseCost(zero, zero, zero),
    }
    setup = algorithm_cost(algorithm).setup()
    if "distribution_report" in setup:
        costs["distribution_report"] = PhaseCost(
            _dispatch(n_total, one_host) + _return(b.report_message_bytes(), f_rep, n_total) + s_fw * BlomZ(n_total),
            n_total * f_rep, zero)
    if "augmentation" in setup:
        costs["augmentation"] = PhaseCost(_dispatch(n_total, one_host) + t_out + seen_at(zero)
                                          + s_fw * BlomZ(n_total), zero, zero)
    return MappingProxyType({phase: costs[phase] for phase in FRAMEWORK_PHASES})
