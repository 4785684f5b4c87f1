"""The one bridge from a sympy expression to a fast vectorised numpy function.

As in tensorwaves, a single function, :func:`numeric_function`, turns an expression of the cost
model of Astraea (Duan et al., ICCD 2019; TPDS 32(1), 2021) and FedAvg (:mod:`costmodel.model`,
in the symbols of :mod:`costmodel.model.quantities`) into a
:class:`NumericFunction` that records the argument order by *name* (the project's input and
coefficient names), so callers pass keyword arrays or a DataFrame and never depend on positions.

How it is made fast (the bar: >= 10 million scenarios per second on one core)
* ``sympy.lambdify`` with common-subexpression elimination (``cse=True``) and a numpy printer
  that prints ``Min``/``Max`` as nested ``numpy.minimum``/``numpy.maximum``, ``ceiling`` as
  ``numpy.ceil`` and :class:`~costmodel.model.BlomZ` as a table look-up
  (:func:`~costmodel.model.blom_z_values`); ``erf``/``erfc`` through a Chebyshev ``erfc`` and
  ``erfinv`` through AS241, and the heterogeneous order statistics (``TiltedMaxFactor``,
  ``StragglerMax``) through their numpy evaluators. No scipy; no Python-level per-scenario work
  except ``StragglerMax`` (one quadrature per scenario).
* Arguments that do not vary stay scalars, so every sub-expression of fixed inputs and
  coefficients is computed once, not per scenario.
* Long one-dimensional inputs are evaluated in cache-sized chunks (:data:`CHUNK`), which keeps the
  temporaries of the generated code in the CPU cache instead of streaming them through memory.

Results are float64 arrays of the arguments' broadcast shape (0-d for all-scalar arguments).
Conversion of ``sympy.oo`` bandwidths: pass ``numpy.inf``; ``x/inf`` evaluates to 0 as intended.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp
from sympy.printing.numpy import NumPyPrinter

from costmodel.errors import InputError
from costmodel.model import blom_z_values
from costmodel.model.order_statistic import normal_quantile_values, tilted_max_factor_values
from costmodel.model.straggler_cdf import normal_sf_values, straggler_max_values
from costmodel.model.quantities import COEFFICIENTS, INPUTS, NAME_OF

__all__ = ["CHUNK", "NumericFunction", "argument_names", "numeric_function"]

#: Elements per chunk when evaluating long one-dimensional inputs.
CHUNK = 1 << 14

_ORDER = {name: index for index, name in enumerate((*INPUTS, *COEFFICIENTS))}


class _Printer(NumPyPrinter):
    """NumPy printer with binary ufuncs for Min/Max and the Blom order statistic."""

    def _nested(self, ufunc: str, args: Sequence[sp.Expr]) -> str:
        text = self._print(args[0])
        for arg in args[1:]:
            text = f"{self._module_format('numpy.' + ufunc)}({text}, {self._print(arg)})"
        return text

    def _print_Min(self, expr: sp.Min) -> str:
        return self._nested("minimum", expr.args)

    def _print_Max(self, expr: sp.Max) -> str:
        return self._nested("maximum", expr.args)

    def _print_BlomZ(self, expr: sp.Expr) -> str:
        return f"blom_z({self._print(expr.args[0])})"

    def _print_TiltedMaxFactor(self, expr: sp.Expr) -> str:
        return f"tilted_max({self._print(expr.args[0])}, {self._print(expr.args[1])})"

    def _print_StragglerMax(self, expr: sp.Expr) -> str:
        numbers = ", ".join(self._print(arg) for arg in expr.args[:7])
        classes = ", ".join(repr(tuple(float(x) for x in arg)) for arg in expr.args[7:])
        return f"straggler_max({numbers}, {classes})"

    def _print_erfc(self, expr: sp.Expr) -> str:
        return f"(2*normal_sf(sqrt2*({self._print(expr.args[0])})))"

    def _print_erf(self, expr: sp.Expr) -> str:
        return f"(1 - 2*normal_sf(sqrt2*({self._print(expr.args[0])})))"

    def _print_erfinv(self, expr: sp.Expr) -> str:
        return f"(normal_quantile(({self._print(expr.args[0])} + 1)/2)/sqrt2)"


def _name(symbol: sp.Symbol) -> str:
    return NAME_OF.get(symbol, symbol.name)


def argument_names(expression: sp.Basic) -> tuple[str, ...]:
    """Names of the free symbols of ``expression``: inputs, then coefficients (in their fixed
    order), then any other symbol by name."""
    names = {_name(s): s for s in expression.free_symbols}
    return tuple(sorted(names, key=lambda n: (_ORDER.get(n, len(_ORDER)), n)))


@dataclass(frozen=True, eq=False)
class NumericFunction:
    """A compiled expression and the names of its arguments, in order.

    Call it with a DataFrame (or any mapping of names to arrays) and/or keyword values::

        f = numeric_function(round_seconds("fedavg"))
        seconds = f(frame, **coefficients)

    Keyword values take precedence over the frame's columns. Arrays broadcast against each other.

    Attributes
    ----------
    expression : sympy.Basic
        The expression (a ``sympy.Tuple`` for several outputs).
    arguments : tuple of str
        The argument names in the order ``function`` takes them.
    function : callable
        The generated numpy function, positional arguments in ``arguments`` order.
    """

    expression: sp.Basic
    arguments: tuple[str, ...]
    function: Callable[..., Any]

    @property
    def outputs(self) -> int:
        """1 for a single expression, else the number of entries of the tuple."""
        return len(self.expression) if isinstance(self.expression, sp.Tuple) else 1

    def _gather(self, data: Any, values: Mapping[str, Any]) -> list[np.ndarray]:
        arrays = []
        for name in self.arguments:
            if name in values:
                raw = values[name]
            elif data is not None and name in data:
                raw = data[name]
            else:
                raise InputError(f"'{name}' must be given: the expression depends on it.")
            if hasattr(raw, "to_numpy"):
                raw = raw.to_numpy()
            arrays.append(np.asarray(raw, dtype=np.float64))
        return arrays

    def __call__(self, data: Any = None, /, **values: Any) -> Any:
        arrays = self._gather(data, values)
        shape = np.broadcast_shapes(*(a.shape for a in arrays)) if arrays else ()
        count = self.outputs
        if len(shape) == 1 and shape[0] > CHUNK:
            size = shape[0]
            outputs = [np.empty(size) for _ in range(count)]
            full = [a.ndim == 1 and a.shape[0] == size for a in arrays]
            for start in range(0, size, CHUNK):
                stop = min(start + CHUNK, size)
                piece = [a[start:stop] if is_full else a for a, is_full in zip(arrays, full)]
                result = self.function(*piece)
                if count == 1:
                    outputs[0][start:stop] = result
                else:
                    for out, part in zip(outputs, result):
                        out[start:stop] = part
        else:
            result = self.function(*arrays)
            parts = [result] if count == 1 else list(result)
            outputs = [np.array(np.broadcast_to(np.asarray(p, dtype=np.float64), shape)) for p in parts]
        return outputs[0] if count == 1 else tuple(outputs)


@functools.lru_cache(maxsize=256)
def _compile(expression: sp.Basic) -> NumericFunction:
    names = argument_names(expression)
    by_name = {_name(s): s for s in expression.free_symbols}
    symbols = [by_name[name] for name in names]
    target = list(expression) if isinstance(expression, sp.Tuple) else expression
    functions = {"blom_z": blom_z_values, "tilted_max": tilted_max_factor_values, "normal_sf": normal_sf_values,
                 "normal_quantile": normal_quantile_values, "straggler_max": straggler_max_values,
                 "sqrt2": np.sqrt(2.0)}
    function = sp.lambdify(symbols, target, modules=[functions, "numpy"], printer=_Printer, cse=True, dummify=True)
    return NumericFunction(expression=expression, arguments=names, function=function)


def numeric_function(expression: sp.Basic | Sequence[sp.Basic]) -> NumericFunction:
    """Turn ``expression`` (or a sequence of expressions, evaluated together) into a
    :class:`NumericFunction`; cached on the expression.

    Parameters
    ----------
    expression : sympy.Basic or sequence of sympy.Basic
        In the symbols of :mod:`costmodel.model.quantities`; other symbols become arguments named after
        themselves. A sequence compiles to one function returning a tuple, sharing common
        sub-expressions.
    """
    if isinstance(expression, (list, tuple)):
        expression = sp.Tuple(*expression)
    expression = sp.sympify(expression)
    return _compile(expression)
