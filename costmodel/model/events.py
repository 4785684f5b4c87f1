"""One statement per event group: its phases, the counts of one event, and its cost in seconds.

Every cost of the model of Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) and FedAvg
(McMahan et al., AISTATS 2017) that calibration fits is stated here once, as the seconds of *one
event* of the trace: a sympy expression in the event's counts (its *columns*, named after the trace
columns they come from) and the platform coefficients of :data:`~costmodel.model.quantities.COEFFICIENTS`.
Everything else is derived from these statements:

* the model's building blocks (:mod:`costmodel.model.blocks`) substitute model quantities for the
  columns (:meth:`EventStatement.at`): a client visit has ``E*m*F`` FLOPs, ``E*m`` samples, ...;
* the calibration's design matrix (:meth:`EventStatement.regressors`): the derivative of the seconds
  with respect to each coefficient that enters linearly (``flops_per_s`` enters as ``1/theta``, so its
  inverse is the linear parameter), evaluated on trace rows through the one lambdify bridge;
* the validation's predictions (the building blocks, at a run's planned counts) and the tests'
  synthetic traces (the seconds, at chosen coefficients).

Adding a term to a cost is one edit here. A statement is checked when it is made: its regressors
must not depend on its linear coefficients (the cost is linear in them) and every coefficient it
uses must be a model coefficient.

=================  ======================================  ==========================================
group              columns of one event                    seconds of one event
=================  ======================================  ==========================================
local_training     flops, samples, steps, params,          ``t_visit + (flops + samples*F_pad)/theta
                   conv_input_values, elementwise_values,  + samples*(V_c*t_conv + V_e*t_val)
                   autograd_nodes, conv_calls,             + steps*(t_step + N*t_node + C_k*t_convcall
                   conv_padding_flops, proximal            + P*t_param + proximal*P*t_prox)``
augmentation       augmented, client_samples,              ``t_aug0 + t_data*V*m + m_a*(t_aug*V
                   sample_values, sample_channels          + t_px*V/C_s)``
augmentation_plan  num_classes                             ``t_plan0 + t_plan*K``
rescheduling       clients, kl_evaluations, class_updates  ``t_resch0 + t_greedy*c + t_KL*e + t_cls*u``
aggregation        models, params, bytes_per_param         ``t_agg0 + t_agg_m*m + t_agg_P*P + P*m*(t_agg
                                                           + t_agg_L*[P*b_p > S_agg])``
serialization      bytes, upload                           ``t_msg + t_ser*W + t_mem*Max(0, W - S_c)
                                                           + t_up0*upload``
=================  ======================================  ==========================================

A convolution's padding FLOPs (``F_pad``, per sample: what its channel counts rounded up to whole blocks
of 16 add) are priced at the FLOP rate: the CPU convolution library computes on whole channel blocks, so a
padded FLOP costs what a FLOP costs (single convolutions timed over channel pairs from 4 to 72 on the
reference machine follow the padded count far more closely than the FLOP count; docs/limits.md).

``cache_bytes`` (``S_c``) and ``aggregate_large_bytes`` (``S_agg``) are the *boundaries* of a second
regime: they enter non-linearly and the fit profiles them (:attr:`EventStatement.boundaries`). The
link's own terms (latency, efficiency, per-message bytes on the wire) are not events of the
in-process trace; :func:`costmodel.model.blocks.transfer_seconds` adds them to a serialization.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import sympy as sp

from costmodel.model.quantities import COEFFICIENTS, NAME_OF, sym

__all__ = [
    "EVENT_STATEMENTS",
    "GROUP_OF_PHASE",
    "EventStatement",
    "column",
    "statement",
]


def column(name: str) -> sp.Symbol:
    """The symbol of event column ``name`` (a count of one event, >= 0)."""
    return sp.Symbol(name, nonnegative=True)


@dataclass(frozen=True)
class EventStatement:
    """The cost of one event of a group (see the module docstring).

    Attributes
    ----------
    group : str
        The fit group, e.g. ``"local_training"``.
    phases : tuple of str
        The trace phases whose events it prices.
    columns : Mapping[str, str]
        Column symbol name -> the trace column (or derived column) that holds it per event.
    seconds : sympy.Expr
        One event's seconds, in the column symbols and coefficients.
    fixed : str
        The coefficient of the fixed per-event term (a term of ``seconds`` with no column).
    inverse : tuple of str
        Coefficients that enter as ``1/x``: their inverse is the linear parameter the fit estimates.
    boundaries : tuple of str
        Coefficients that set where a second regime starts (non-linear; profiled by the fit).
    regime_size : sympy.Expr or None
        The size, in the columns, that a boundary is compared with (a message's bytes, one model's
        bytes); ``None`` without a boundary.
    """

    group: str
    phases: tuple[str, ...]
    columns: Mapping[str, str]
    seconds: sp.Expr
    fixed: str
    inverse: tuple[str, ...] = ()
    boundaries: tuple[str, ...] = ()
    regime_size: sp.Expr | None = None

    def __post_init__(self) -> None:
        if bool(self.boundaries) != (self.regime_size is not None):
            raise ValueError(f"The {self.group} statement must give a regime_size exactly when it has boundaries.")
        object.__setattr__(self, "columns", MappingProxyType(dict(self.columns)))
        used = {NAME_OF[s] for s in self.seconds.free_symbols if s in NAME_OF}
        unknown = {s.name for s in self.seconds.free_symbols if s not in NAME_OF} - set(self.columns)
        if unknown:
            raise ValueError(f"The {self.group} statement uses symbols that are neither columns nor model "
                             f"quantities: {', '.join(sorted(unknown))}.")
        if self.fixed not in used:
            raise ValueError(f"The {self.group} statement's fixed coefficient {self.fixed!r} is not in its seconds.")
        for name, regressor in self.regressors().items():
            leaked = {NAME_OF[s] for s in regressor.free_symbols if s in NAME_OF} & set(self.linear_coefficients)
            if leaked:
                raise ValueError(f"The {self.group} statement is not linear in {name}: its regressor depends on "
                                 f"{', '.join(sorted(leaked))}.")

    @property
    def coefficients(self) -> tuple[str, ...]:
        """Every coefficient the seconds use, in :data:`COEFFICIENTS` order."""
        used = {NAME_OF[s] for s in self.seconds.free_symbols if s in NAME_OF}
        return tuple(name for name in COEFFICIENTS if name in used)

    @property
    def linear_coefficients(self) -> tuple[str, ...]:
        """The coefficients the fit estimates by regression (not the boundaries), fixed term last."""
        names = [n for n in self.coefficients if n not in self.boundaries and n != self.fixed]
        return (*names, self.fixed)

    def _linearized(self) -> tuple[sp.Expr, dict[str, sp.Symbol]]:
        """The seconds with every inverse coefficient ``x`` replaced by ``1/u_x``, and the ``u`` symbols."""
        parameters = {name: sym(name) for name in self.linear_coefficients}
        expression = self.seconds
        for name in self.inverse:
            u = sp.Symbol(f"inverse_{name}", positive=True)
            expression = expression.xreplace({sym(name): 1 / u})
            parameters[name] = u
        return expression, parameters

    def regressors(self) -> dict[str, sp.Expr]:
        """``coefficient -> d seconds / d parameter`` for each linear coefficient, in the column symbols
        (and the boundary coefficients): the design matrix's columns. The parameter of an inverse
        coefficient is its inverse (``1/flops_per_s``, seconds per FLOP)."""
        expression, parameters = self._linearized()
        return {name: sp.diff(expression, u) for name, u in parameters.items()}

    def at(self, **values: sp.Expr) -> sp.Expr:
        """The seconds with model quantities (or numbers) substituted for every column."""
        missing = sorted(set(self.columns) - set(values))
        if missing:
            raise ValueError(f"The {self.group} statement needs a value for column(s) {', '.join(missing)}.")
        extra = sorted(set(values) - set(self.columns))
        if extra:
            raise ValueError(f"The {self.group} statement has no column(s) {', '.join(extra)}.")
        return self.seconds.xreplace({column(name): sp.sympify(value) for name, value in values.items()})


def _s(*names: str) -> tuple[sp.Symbol, ...]:
    return tuple(sym(name) for name in names)


def _statements() -> tuple[EventStatement, ...]:
    flops, samples, steps, params, conv, elementwise, nodes, conv_calls, padding, proximal = (column(n) for n in (
        "flops", "samples", "steps", "params", "conv_input_values", "elementwise_values", "autograd_nodes",
        "conv_calls", "conv_padding_flops", "proximal"))
    theta, t_conv, t_val, t_step, t_node, t_convcall, t_param, t_prox, t_visit = _s(
        "flops_per_s", "train_s_per_conv_value", "train_s_per_elementwise_value", "step_overhead_s",
        "train_s_per_autograd_node", "train_s_per_conv_call", "step_s_per_param", "prox_s_per_param",
        "train_s_per_visit")
    augmented, original, values = column("augmented"), column("client_samples"), column("sample_values")
    channels = column("sample_channels")
    t_aug0, t_data, t_aug, t_px = _s("augment_s_per_client", "augment_s_per_data_value", "augment_s_per_value",
                                     "augment_s_per_pixel")
    classes = column("num_classes")
    t_plan0, t_plan = _s("augment_plan_s", "augment_plan_s_per_class")
    clients, evaluations, updates = column("clients"), column("kl_evaluations"), column("class_updates")
    t_resch0, t_greedy, t_kl, t_cls = _s("reschedule_s_per_round", "reschedule_s_per_step", "kl_s_per_evaluation",
                                         "reschedule_s_per_class_update")
    models, model_params, bytes_per_param = column("models"), column("params"), column("bytes_per_param")
    t_agg0, t_agg_m, t_agg_p, t_agg, t_agg_l, s_agg = _s(
        "aggregate_s_per_round", "aggregate_s_per_model", "aggregate_s_per_output_param", "aggregate_s_per_param",
        "aggregate_s_per_large_param", "aggregate_large_bytes")
    size, upload = column("bytes"), column("upload")
    t_msg, t_ser, t_mem, s_c, t_up0 = _s("message_s", "serialize_s_per_byte", "serialize_s_per_uncached_byte",
                                         "cache_bytes", "upload_message_s")
    large = sp.Piecewise((0, model_params * bytes_per_param <= s_agg), (1, True))
    return (
        EventStatement(
            group="local_training", phases=("local_training",),
            columns={"flops": "flops", "samples": "samples", "steps": "steps", "params": "params",
                     "conv_input_values": "conv_input_values", "elementwise_values": "elementwise_values",
                     "autograd_nodes": "autograd_nodes", "conv_calls": "conv_calls",
                     "conv_padding_flops": "conv_padding_flops", "proximal": "proximal"},
            # a padding FLOP costs what a FLOP costs: the convolution runs on the whole blocks (module docstring)
            seconds=t_visit + (flops + samples * padding) / theta + samples * (conv * t_conv + elementwise * t_val)
            + steps * (t_step + nodes * t_node + conv_calls * t_convcall + params * t_param
                       + proximal * params * t_prox),
            fixed="train_s_per_visit", inverse=("flops_per_s",)),
        EventStatement(
            group="augmentation", phases=("augmentation",),
            columns={"augmented": "samples", "client_samples": "client_samples", "sample_values": "sample_values",
                     "sample_channels": "sample_channels"},
            seconds=t_aug0 + t_data * values * original + augmented * (t_aug * values + t_px * values / channels),
            fixed="augment_s_per_client"),
        EventStatement(
            group="augmentation_plan", phases=("augmentation_plan",), columns={"num_classes": "num_classes"},
            seconds=t_plan0 + t_plan * classes, fixed="augment_plan_s"),
        EventStatement(
            group="rescheduling", phases=("rescheduling",),
            columns={"clients": "samples", "kl_evaluations": "steps", "class_updates": "flops"},
            seconds=t_resch0 + t_greedy * clients + t_kl * evaluations + t_cls * updates,
            fixed="reschedule_s_per_round"),
        EventStatement(
            group="aggregation", phases=("aggregation",),
            columns={"models": "samples", "params": "params", "bytes_per_param": "bytes_per_param"},
            seconds=t_agg0 + t_agg_m * models + t_agg_p * model_params
            + model_params * models * (t_agg + t_agg_l * large),
            fixed="aggregate_s_per_round", boundaries=("aggregate_large_bytes",),
            regime_size=model_params * bytes_per_param),
        EventStatement(
            group="serialization",
            phases=("model_broadcast", "client_download", "client_upload", "mediator_upload", "distribution_report"),
            columns={"bytes": "bytes", "upload": "upload"},
            seconds=t_msg + t_ser * size + t_mem * sp.Max(0, size - s_c) + t_up0 * upload,
            fixed="message_s", boundaries=("cache_bytes",), regime_size=size),
    )


#: Every event group's statement, by group, in the fit's order.
EVENT_STATEMENTS: Mapping[str, EventStatement] = MappingProxyType({s.group: s for s in _statements()})
#: The group whose statement prices each phase's events.
GROUP_OF_PHASE: Mapping[str, str] = MappingProxyType({phase: s.group for s in EVENT_STATEMENTS.values()
                                                      for phase in s.phases})


def statement(group: str) -> EventStatement:
    """The statement of ``group`` (a key of :data:`EVENT_STATEMENTS`)."""
    try:
        return EVENT_STATEMENTS[group]
    except KeyError:
        raise ValueError(f"{group!r} is not an event group ({', '.join(EVENT_STATEMENTS)}).") from None
