"""The one list of the cost model's platform coefficients: name, symbol, unit, meaning and rule.

The cost model of Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) and FedAvg prices every
phase with coefficients fitted on a machine (:mod:`calibration.fit`) and carried in a calibration
file. Two modules need the list: :mod:`costmodel.model.quantities` (the sympy symbols the expressions are
written in) and :mod:`costmodel.contracts.calibration_file` (the file's contract, read without sympy). Both
build on this table, so a coefficient is declared once. Plain Python only: no sympy, no numpy.

Each :class:`CoefficientSpec` holds the project-wide ``name`` (the calibration file's key), the
short ``symbol`` the expressions print with, the SI ``unit``, a one-line ``meaning``, whether the
value may be 0 (``nonnegative``: fixed per-event costs, terms a fit may find absent, the link
latency) rather than > 0, and an upper bound if any.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["COEFFICIENT_TABLE", "DEVICE_RATE_COEFFICIENTS", "DEVICE_SECONDS_COEFFICIENTS", "CoefficientSpec"]


@dataclass(frozen=True)
class CoefficientSpec:
    """One platform coefficient (see the module docstring)."""

    name: str
    symbol: str
    unit: str
    meaning: str
    nonnegative: bool = False
    maximum: float | None = None
    minimum: float = 0.0

    @property
    def lower_rule(self) -> str:
        """The lower bound as error messages state it, e.g. ``"> 0"``, ``">= 1000 FLOP/s"``."""
        if self.minimum > 0:
            return f">= {self.minimum:g}{self._unit}"
        return ">= 0" if self.nonnegative else "> 0"

    @property
    def upper_rule(self) -> str:
        """The upper bound as error messages state it, e.g. ``"<= 1000 s"``; empty without one."""
        return "" if self.maximum is None else f"<= {self.maximum:g}{self._unit}"

    @property
    def rule(self) -> str:
        """Both bounds, e.g. ``"> 0 and <= 1000 s"``."""
        return self.lower_rule if self.maximum is None else f"{self.lower_rule} and {self.upper_rule}"

    @property
    def _unit(self) -> str:
        return "" if self.unit == "1" else f" {self.unit}"

    def broken_rule(self, value: float) -> str | None:
        """The bound a finite ``value`` breaks (:attr:`lower_rule` or :attr:`upper_rule`), or ``None``."""
        if self.minimum > 0:
            low = value >= self.minimum
        else:
            low = value >= 0 if self.nonnegative else value > 0
        if not low:
            return self.lower_rule
        if self.maximum is not None and value > self.maximum:
            return self.upper_rule
        return None

    def allows(self, value: float) -> bool:
        """Whether a finite ``value`` obeys :attr:`rule`."""
        return self.broken_rule(value) is None


#: Largest value per unit: a physically meaningful bound that also keeps every prediction finite.
#: Seconds per event or per counted item: 1000 s; a relative spread: 10; sizes: 1 PB.
_MAXIMUM_OF_UNIT = {"s": 1e3, "1": 10.0, "B": 1e15}


def _c(name: str, symbol: str, unit: str, meaning: str, *, nonnegative: bool = False,
       maximum: float | None = None, minimum: float = 0.0) -> CoefficientSpec:
    if maximum is None:
        maximum = _MAXIMUM_OF_UNIT.get("s" if unit.startswith("s/") else unit)
    return CoefficientSpec(name, symbol, unit, meaning, nonnegative, maximum, minimum)


#: Every coefficient, in the calibration file's order.
COEFFICIENT_TABLE: tuple[CoefficientSpec, ...] = (
    _c("flops_per_s", "theta", "FLOP/s",
       "effective training throughput, on the training FLOPs and the convolutions' padding FLOPs (their channel "
       "counts rounded up to blocks of 16)", minimum=1e3, maximum=1e18),
    _c("train_s_per_conv_value", "t_conv", "s/value",
       "seconds per value entering a convolution, per training sample (memory traffic FLOPs do not count)",
       nonnegative=True),
    _c("train_s_per_elementwise_value", "t_val", "s/value",
       "seconds per value written by an element-wise operation (activations, additions, pooling, dropout, "
       "the loss and their gradients; normalizations are not counted), per training sample", nonnegative=True),
    _c("step_overhead_s", "t_step", "s", "fixed seconds per optimizer step", nonnegative=True),
    _c("train_s_per_autograd_node", "t_node", "s/node",
       "seconds per autograd node per optimizer step (an operator's forward and backward call, a parameter "
       "tensor's update)", nonnegative=True),
    _c("train_s_per_conv_call", "t_convcall", "s/call",
       "seconds per call of a convolution with a spatial kernel or groups (forward or backward) per optimizer "
       "step", nonnegative=True),
    _c("step_s_per_param", "t_param", "s/param", "seconds per optimizer step per parameter"),
    _c("prox_s_per_param", "t_prox", "s/param",
       "seconds per parameter per optimizer step of a proximal term (FedProx: mu*(w - w_global) added to the "
       "gradient)"),
    _c("train_s_per_visit", "t_visit", "s", "fixed seconds per client visit (load, optimizer state)",
       nonnegative=True),
    _c("train_time_cv", "cv_t", "1",
       "relative standard deviation of a visit's training time at a given size (device jitter)", nonnegative=True),
    _c("augment_s_per_value", "t_aug", "s/value", "seconds per augmented value (interpolating one channel)"),
    _c("augment_s_per_pixel", "t_px", "s/pixel",
       "seconds per augmented pixel (its warped coordinates, shared by the channels)", nonnegative=True),
    _c("augment_s_per_client", "t_aug0", "s", "fixed seconds of one client's augmentation", nonnegative=True),
    _c("augment_s_per_data_value", "t_data", "s/value",
       "seconds per value of a client's original data in its augmentation (it is copied)", nonnegative=True),
    _c("augment_plan_s_per_class", "t_plan", "s/class", "seconds per class to plan augmentation"),
    _c("augment_plan_s", "t_plan0", "s", "fixed seconds of the augmentation plan", nonnegative=True),
    _c("kl_s_per_evaluation", "t_KL", "s/evaluation",
       "seconds per candidate scored by a greedy rescheduling step (one KL to uniform)"),
    _c("reschedule_s_per_class_update", "t_cls", "s/update",
       "seconds per class count of a candidate a greedy step updates (the mediator's running sum changed)",
       nonnegative=True),
    _c("reschedule_s_per_step", "t_greedy", "s/step", "seconds per greedy rescheduling step"),
    _c("reschedule_s_per_round", "t_resch0", "s", "fixed seconds of one round's rescheduling", nonnegative=True),
    _c("aggregate_s_per_param", "t_agg", "s/param", "seconds per parameter per averaged model"),
    _c("aggregate_s_per_round", "t_agg0", "s", "fixed seconds of one aggregation", nonnegative=True),
    _c("aggregate_s_per_model", "t_agg_m", "s/model", "seconds per averaged model (one accumulate call)",
       nonnegative=True),
    _c("aggregate_s_per_output_param", "t_agg_P", "s/param",
       "seconds per parameter of the average itself (the first model is scaled into it)", nonnegative=True),
    _c("aggregate_s_per_large_param", "t_agg_L", "s/param",
       "extra seconds per parameter per model once one model exceeds aggregate_large_bytes", nonnegative=True),
    _c("aggregate_large_bytes", "S_agg", "B",
       "model size beyond which the running average no longer stays in a core's cache"),
    _c("serialize_s_per_byte", "t_ser", "s/B", "(de)serialization seconds per message byte"),
    _c("serialize_s_per_uncached_byte", "t_mem", "s/B",
       "extra (de)serialization seconds per message byte beyond cache_bytes", nonnegative=True),
    _c("cache_bytes", "S_c", "B", "message size beyond which (de)serialization leaves the cache"),
    _c("upload_message_s", "t_up0", "s",
       "extra seconds of a client upload (encoded right after training, on cold caches)", nonnegative=True),
    _c("message_s", "t_msg", "s", "per-message software cost (encode/decode of a header, calls)",
       nonnegative=True),
    _c("latency_s", "t_lat", "s", "per-message link latency (0 in process)", nonnegative=True),
    _c("link_efficiency", "eta", "1", "fraction of nominal bandwidth achieved", maximum=1.0),
    _c("message_overhead_bytes", "h_net", "B", "bytes per message beyond the payload (TCP/IP, framing)"),
)

#: The device-side compute coefficients that are a rate: a device ``f`` times as fast as the calibration
#: machine has ``f`` times the rate (``--device-speed f``).
DEVICE_RATE_COEFFICIENTS: tuple[str, ...] = ("flops_per_s",)
#: The device-side compute coefficients in seconds per event or item: a client's local training (every
#: term of the local-training statement) and its augmentation. A device ``f`` times as fast takes
#: ``1/f`` of each. Not scaled: relative spreads (``train_time_cv``), server-side work (planning,
#: rescheduling, aggregation), the (de)serialization and message coefficients (one value serves the
#: server and the clients) and the link's.
DEVICE_SECONDS_COEFFICIENTS: tuple[str, ...] = (
    "train_s_per_conv_value", "train_s_per_elementwise_value", "step_overhead_s", "train_s_per_autograd_node",
    "train_s_per_conv_call", "step_s_per_param", "prox_s_per_param", "train_s_per_visit", "augment_s_per_value",
    "augment_s_per_pixel", "augment_s_per_client", "augment_s_per_data_value",
)

if not {*DEVICE_RATE_COEFFICIENTS, *DEVICE_SECONDS_COEFFICIENTS} <= {spec.name for spec in COEFFICIENT_TABLE}:
    raise RuntimeError("a device-side coefficient is not in COEFFICIENT_TABLE")  # pragma: no cover - a guard
