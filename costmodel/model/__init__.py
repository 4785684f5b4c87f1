"""The cost model: the symbolic cost of Astraea and its baselines, phase by phase, and of Astraea's overhead.

The protocols are those of Astraea (Duan et al., ICCD 2019; TPDS 32(1), 2021: setup = distribution
report, augmentation plan, augmentation; per round = rescheduling into mediators of gamma clients,
sequential SGD through each mediator's clients for E_m mediator epochs, weighted average of the
mediators' updates) and FedAvg (McMahan et al., AISTATS 2017: c clients train E epochs in parallel,
weighted average). Symbols are those of :mod:`costmodel.model.quantities`; every expression is in SI
units (seconds, bytes, FLOP).

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
  ``t_train(m) = t_visit + E*m*((F + F_pad)/theta + V_c*t_conv + V_e*t_val)
  + E*ceiling(m/B)*(t_step + N*t_node + C_k*t_convcall + P*t_param)``.
  Chosen by measurement (one torch thread, ``time.thread_time``, Adam) across five architecture families
  (dense-only, the TPDS CNN layout, residual with BatchNorm, depthwise-separable, a small vision
  transformer): at these sizes much of a visit is per call and per value, not per FLOP. Per sample: the FLOPs
  at one rate, with the FLOPs the convolutions' channel counts rounded up to blocks of 16 would add
  (``F_pad``: the CPU convolution library lays channels out in blocks of 16 float32 lanes and computes on
  whole blocks, so a convolution of 4 channels costs about what one of 16 does), the values entering the
  convolutions (``V_c``: a CPU convolution reads, unfolds and back-propagates through its whole input) and the
  values element-wise operations write (``V_e``: activations, additions, pooling, dropout, the loss, forward
  and backward). Per step: a fixed cost, one per autograd node (``N``: an operator's forward and backward
  call, a parameter tensor's update), one per spatial or grouped convolution call (``C_k``, about 170 us each
  on the reference VM) and one per parameter (the optimizer). The former statement (``t_samp`` per sample and
  ``t_step`` per step, fitted on CNNs) priced a dense-only model's step at the CNN's six convolution calls and
  over-predicted its visits by up to about 2x; splitting ``F`` by operator class did not generalise across
  families (depthwise and attention FLOPs exist in one family each). :mod:`calibration.family_study` measures
  how far each family is predicted by a fit that never saw it. ``t_visit`` is a fixed cost per visit
  (optimizer state).
* Heterogeneous clients. Client time is (ceilings relaxed) linear in its sample count with slope
  ``s = E*((F + F_pad)/theta + V_c*t_conv + V_e*t_val) + E*(t_step + N*t_node + C_k*t_convcall
  + P*t_param)/B``, so a client's training time has mean ``t_train(n)`` and standard deviation
  ``s*s_n``. The largest of ``k`` iid normal times is ``mean + sd*z_k`` with Blom's approximation
  ``z_k = Phi^-1((k - 3/8)/(k + 1/4))`` (:class:`BlomZ`; ``z_1 = 0``). Astraea trains on
  ``n_eff = n*(1 + a - r)`` samples, whose spread is ``s_n*(1 + a - r) + n*s_a``
  (:func:`effective_samples_sd`): the spread of the original sizes, grown by the plan, plus the spread ``s_a`` of each client's own augmented fraction (augmentation
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
  cost, c greedy steps, ``c*(c+1)/2`` candidate evaluations, and the class counts the greedy
  updates: every step that adds a client to a mediator that stays open updates each remaining
  candidate's ``K_c`` classes, ``K_c*c*(c - M)/2`` in all (``K_c`` the classes a client holds),
  ``t_resch0 + t_greedy*c + t_KL*c*(c + 1)/2 + t_cls*K_c*c*(c - M)/2``. The augmentation plan is
  ``t_plan0 + t_plan*K``; with the plan ``'none'`` (``plans_augmentation = 0``) neither the plan nor
  the augmentation happens.
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
  ``t_aug0 + t_data*V*(n + s_n*z_N) + (t_aug*V + t_px*V/C_s)*(n*a + (s_n*a + n*s_a)*z_N)``. Its FLOPs are not
  counted (0).
* Storage: the augmented samples are kept as float32 tensors and downsampled ones deleted, net
  ``4*n*(a - r)*V`` bytes per client (:func:`storage_bytes_per_client`).
* FedAvg has no setup; rescheduling, broadcast and mediator upload are zero for FedAvg.

Overhead = Astraea - FedAvg in the four categories of :data:`costmodel.contracts.vocabulary.CATEGORIES`
(:func:`overhead`), by one rule that attributes every term of either algorithm's round to what
causes it (:data:`~costmodel.model.overhead.ATTRIBUTION_RULE`); per round, with ``T_A =
t_train(n_eff)``, ``T_F = t_train(n)`` (a visit on the original data, Astraea's ``T_own``):

* ``training_compute = E_m*T_F - T_F``: a client's own training on its own data (E_m passes
  instead of one).
* ``data_augmentation = E_m*g*(T_A - T_F)``: every visit in series trains on the added samples.
* ``communication = (E_m*(t_down_A + t_up_A) + t_bcast + t_mup) - (t_down_F + t_up_F)``: a
  client's own transfers and the server's model messages; bytes: Astraea's round bytes minus
  FedAvg's, ``2*W*(M + E_m*c) - 2*W*c``.
* ``coordination = (g - 1)*E_m*(t_down_A + T_F + t_up_A)`` (the other clients' visits a chain waits
  for) ``+ t_resched`` ``+`` (slowest mediator's excess ``-`` slowest client's) ``+`` (aggregation of M
  models ``-`` of c).
* Setup: all data augmentation (report, plan, augmentation; bytes the reports ``N*(h + 8*K)``),
  plus the net ``storage_bytes`` per client.

The four categories sum exactly to ``round_seconds('astraea') - round_seconds('fedavg')`` (and to
the setup and total differences). Totals: ``setup + R*round``.

Paper formulas, kept as their own expressions to confront: time per round FedAvg ``E*T``, Astraea
``E_m*gamma*E*T`` (ratio ``E_m*gamma``); traffic per round FedAvg ``2*c*|w|``, Astraea
``2*|w|*(ceiling(c/gamma) + c)``, which lacks the E_m of ours, ``2*|w|*(ceiling(c/gamma) + E_m*c)``.

Where each piece lives
----------------------
* :mod:`~costmodel.model.quantities` and :mod:`~costmodel.model.scenario`: the inputs and
  coefficients as symbols with units and rules; one point of the input space.
* :mod:`~costmodel.model.events`: one statement per event group (its phases, the counts of one
  event, its seconds): the model, the calibration's fit, the validation and the tests derive from it.
* :mod:`~costmodel.model.blocks`: the building blocks above, from the event statements.
* :mod:`~costmodel.model.protocols`: one module per algorithm (Astraea, FedAvg, ...), registered once.
* :mod:`~costmodel.model.phase_costs`, :mod:`~costmodel.model.overhead`, :mod:`~costmodel.model.papers`:
  phases, totals, the overhead categories and the papers' own formulas.
* :mod:`~costmodel.model.order_statistic` (Blom's ``z_k``) and :mod:`~costmodel.model.bridge` (sympy to
  numpy).

This package re-exports the functions a user of the model calls; the modules hold the rest.
"""

from __future__ import annotations

from costmodel.contracts.vocabulary import MODEL_PHASES, OVERHEAD_SCOPES, PHASE_SCOPE
from costmodel.model.blocks import (
    STORED_BYTES_PER_VALUE,
    aggregation_seconds,
    augmentation_seconds,
    augmentation_seconds_per_client,
    augmented_samples,
    effective_samples,
    effective_samples_sd,
    mediator_clients,
    mediators,
    model_message_bytes,
    optimizer_steps,
    report_message_bytes,
    rescheduling_seconds,
    serialization_seconds,
    shared_bandwidth,
    storage_bytes_per_client,
    training_seconds,
    training_seconds_per_sample,
    transfer_seconds,
)
from costmodel.model.order_statistic import BlomZ, blom_z_values
from costmodel.model.overhead import ATTRIBUTION_RULE, OverheadCost, attributed_round, overhead
from costmodel.model.papers import paper_round_bytes, paper_round_seconds, paper_time_ratio
from costmodel.model.phase_costs import (
    communication_seconds,
    compute_seconds,
    phase_costs,
    round_bytes,
    round_parts,
    round_seconds,
    setup_bytes,
    setup_seconds,
    total_bytes,
    total_seconds,
)
from costmodel.model.protocols import ALGORITHMS, BASELINES, SUBJECT, PhaseCost

__all__ = [
    "ALGORITHMS",
    "ATTRIBUTION_RULE",
    "BASELINES",
    "BlomZ",
    "MODEL_PHASES",
    "OVERHEAD_SCOPES",
    "OverheadCost",
    "PHASE_SCOPE",
    "PhaseCost",
    "STORED_BYTES_PER_VALUE",
    "SUBJECT",
    "aggregation_seconds",
    "attributed_round",
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
    "round_parts",
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
