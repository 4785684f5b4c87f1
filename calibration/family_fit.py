"""The family study's fit and its tables: in-family and leave-one-family-out errors of the local-training statement.

From the visits of :mod:`calibration.family_measure` (one row per configuration and round):

* :func:`configuration_table`: one row per configuration, ``seconds`` the median over its rounds and
  ``noise`` the coefficient of variation across them (sample standard deviation over mean, a
  fraction; the run-to-run noise :mod:`calibration.protocol` reports);
* :func:`event_rows`: each configuration as a ``local_training`` event of the trace (a visit's
  ``flops`` are ``F * samples``; ``proximal`` is 0, no FedProx term), holding every column the
  statement (:mod:`costmodel.model.events`) may use;
* :func:`fit_coefficients`: the statement's design matrix
  (:func:`calibration.fit.rows.design_matrix`) on those rows, fitted by the calibration's robust
  relative NNLS (:func:`calibration.fit.regression.irls`), every configuration weighted alike. The
  terms are the statement's: nothing here names one;
* :func:`family_table`: per test grid (:data:`calibration.family_grid.TEST_SETS`: the published
  ``test7``) and family, the mean absolute percentage error (MAPE, ``mean |predicted / measured - 1|``) of

  - *in-family*: a fit on every development configuration, on the family's test configurations;
  - *leave-one-family-out* (LOFO): a fit on the development configurations of the other four
    families, on the family's test configurations and on its development configurations;

  the *development configurations* being those of :data:`calibration.family_grid.FIT_SETS` (the
  development grid and every looked-at test grid; the ``dev`` columns of the table count them);

  with the family's median noise (test and development) beside, and the verdict
  (:func:`verdict`): in-family within :data:`IN_FAMILY_TARGET_PERCENT`, LOFO (test) within
  :data:`LOFO_TARGET_PERCENT`. The fits never see a test configuration.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from calibration.family_grid import FAMILIES, FIT_SETS, TEST_SETS
from calibration.fit.regression import irls
from calibration.fit.rows import design_matrix, statement_of
from costmodel.errors import InputError

__all__ = [
    "CONFIGURATION_COLUMNS",
    "GROUP",
    "IN_FAMILY_TARGET_PERCENT",
    "LOFO_TARGET_PERCENT",
    "TABLE_COLUMNS",
    "coefficient_names",
    "configuration_table",
    "event_rows",
    "family_table",
    "fit_coefficients",
    "fits_frame",
    "mape_percent",
    "predict_seconds",
    "unexercised_parameters",
    "verdict",
]

#: The statement fitted.
GROUP = "local_training"
#: The bar of the in-family error (%, test configurations, every family in the fit).
IN_FAMILY_TARGET_PERCENT = 10.0
#: The bar of the leave-one-family-out error (%, test configurations, the family not in the fit).
LOFO_TARGET_PERCENT = 15.0
#: What identifies a configuration in the visits.
CONFIGURATION_COLUMNS: tuple[str, ...] = ("set", "family", "model", "width", "depth", "sample_shape",
                                          "num_classes", "batch_size", "samples")
#: Per-model columns carried from the visits into the configuration table.
_CARRIED: tuple[str, ...] = ("steps", "params", "train_flops_per_sample", "conv_input_values", "elementwise_values",
                             "autograd_nodes", "conv_calls", "conv_padding_flops")
#: Columns of :func:`family_table`.
TABLE_COLUMNS: tuple[str, ...] = (
    "test_set", "family", "dev_models", "dev_configurations", "test_models", "test_configurations", "noise_dev_pct",
    "noise_test_pct", "fit_dev_mape_pct", "in_family_test_mape_pct", "in_family_test_max_pct", "lofo_dev_mape_pct",
    "lofo_test_mape_pct", "lofo_test_max_pct", "in_family_target_pct", "lofo_target_pct", "verdict")


def configuration_table(visits: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration: its columns, ``seconds`` (median over rounds), ``noise`` (CV across
    rounds, NaN for one round), ``rounds``, and the model's features."""
    missing = [c for c in (*CONFIGURATION_COLUMNS, *_CARRIED, "seconds") if c not in visits.columns]
    if missing:
        raise InputError(f"'visits' must have the columns {', '.join(missing)} (got {', '.join(visits.columns)}).")
    grouped = visits.groupby(list(CONFIGURATION_COLUMNS), sort=False)
    seconds = grouped["seconds"]
    table = grouped[list(_CARRIED)].first()
    table["seconds"] = seconds.median()
    table["noise"] = seconds.std(ddof=1) / seconds.mean()
    table["rounds"] = seconds.size()
    return table.reset_index()


def event_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The configurations as ``local_training`` events: every column a statement of the group may use."""
    samples = table["samples"].to_numpy(dtype=np.float64)
    events = pd.DataFrame({
        "flops": table["train_flops_per_sample"].to_numpy(dtype=np.float64) * samples,
        "samples": samples,
        "steps": table["steps"].to_numpy(dtype=np.float64),
        "params": table["params"].to_numpy(dtype=np.float64),
        "conv_input_values": table["conv_input_values"].to_numpy(dtype=np.float64),
        "elementwise_values": table["elementwise_values"].to_numpy(dtype=np.float64),
        "autograd_nodes": table["autograd_nodes"].to_numpy(dtype=np.float64),
        "conv_calls": table["conv_calls"].to_numpy(dtype=np.float64),
        "conv_padding_flops": table["conv_padding_flops"].to_numpy(dtype=np.float64),
        "proximal": np.zeros(len(table)),
    }, index=table.index)
    unknown = sorted(set(statement_of(GROUP).columns.values()) - set(events.columns))
    if unknown:
        raise InputError(f"'{GROUP}' statement must use columns the family study measures "
                         f"({', '.join(events.columns)}) (got {', '.join(unknown)}).")
    return events


def coefficient_names() -> tuple[str, ...]:
    """The fitted parameters in design-matrix order; an inverse coefficient ``x`` appears as ``1/x``."""
    statement = statement_of(GROUP)
    return tuple(f"1/{n}" if n in statement.inverse else n for n in statement.linear_coefficients)


def fit_coefficients(table: pd.DataFrame) -> np.ndarray:
    """The statement's linear parameters fitted on ``table``'s configurations (``seconds``; module docstring)."""
    if table.empty:
        raise InputError(f"'table' must hold configurations to fit (got {len(table)} rows).")
    x = design_matrix(GROUP, event_rows(table))
    return irls(x, table["seconds"].to_numpy(dtype=np.float64), np.ones(len(table)))


def unexercised_parameters(table: pd.DataFrame) -> tuple[str, ...]:
    """The parameters whose design column is 0 on every configuration of ``table`` (the data cannot set
    them; the fit leaves them at 0), e.g. FedProx's proximal term."""
    x = design_matrix(GROUP, event_rows(table))
    return tuple(name for name, column in zip(coefficient_names(), x.T) if not np.any(column))


def predict_seconds(table: pd.DataFrame, coefficients: np.ndarray) -> np.ndarray:
    """Each configuration's visit seconds under ``coefficients`` (:func:`fit_coefficients`)."""
    return design_matrix(GROUP, event_rows(table)) @ np.asarray(coefficients, dtype=np.float64)


def mape_percent(predicted: np.ndarray, measured: np.ndarray) -> tuple[float, float]:
    """(mean, max) of ``|predicted / measured - 1|`` in percent; NaN for no rows."""
    errors = np.abs(np.asarray(predicted, dtype=np.float64) / np.asarray(measured, dtype=np.float64) - 1.0)
    if errors.size == 0:
        return math.nan, math.nan
    return 100.0 * float(errors.mean()), 100.0 * float(errors.max())


def verdict(in_family_pct: float, lofo_pct: float) -> str:
    """``pass`` when the in-family error is within :data:`IN_FAMILY_TARGET_PERCENT` and the LOFO error
    within :data:`LOFO_TARGET_PERCENT` (both on test configurations); else which one misses."""
    if not (math.isfinite(in_family_pct) and math.isfinite(lofo_pct)):
        return "not measured"
    misses = [label for label, value, target in (("in-family", in_family_pct, IN_FAMILY_TARGET_PERCENT),
                                                 ("LOFO", lofo_pct, LOFO_TARGET_PERCENT)) if value > target]
    return "pass" if not misses else "fail: " + " and ".join(misses) + " above target"


def _median_pct(values: pd.Series) -> float:
    values = values.dropna()
    return 100.0 * float(values.median()) if len(values) else math.nan


def _models(rows: pd.DataFrame) -> int:
    return int(len(rows.drop_duplicates(["model", "width", "depth", "sample_shape"])))


def family_table(configurations: pd.DataFrame, test_sets: tuple[str, ...] = TEST_SETS
                 ) -> tuple[pd.DataFrame, dict[str, dict[str, float]]]:
    """The in-family and LOFO table (:data:`TABLE_COLUMNS`, one row per test grid of ``test_sets`` and
    family of :data:`FAMILIES` with development configurations, grid by grid) and the fits' parameters
    (``"all families"``, ``"without F"``).

    ``configurations`` is :func:`configuration_table`'s output; a test grid without configurations has
    NaN test columns and the verdict ``not measured``.
    """
    dev = configurations[configurations["set"].isin(FIT_SETS)]
    present = [f for f in FAMILIES if (dev["family"] == f).any()]
    if len(present) < 2:
        raise InputError(f"'visits' must hold development configurations of two families or more "
                         f"(got {', '.join(present) or 'none'}).")
    names = coefficient_names()
    everything = fit_coefficients(dev)
    fits = {"all families": dict(zip(names, everything.tolist()))}
    without_family = {}
    for family in present:
        without_family[family] = fit_coefficients(dev[dev["family"] != family])
        fits[f"without {family}"] = dict(zip(names, without_family[family].tolist()))
    rows = []
    for test_set, family in ((t, f) for t in test_sets for f in present):
        test = configurations[configurations["set"] == test_set]
        own_dev, own_test = dev[dev["family"] == family], test[test["family"] == family]
        without = without_family[family]
        fit_dev, _ = mape_percent(predict_seconds(own_dev, everything), own_dev["seconds"])
        in_test, in_test_max = mape_percent(predict_seconds(own_test, everything), own_test["seconds"])
        lofo_dev, _ = mape_percent(predict_seconds(own_dev, without), own_dev["seconds"])
        lofo_test, lofo_test_max = mape_percent(predict_seconds(own_test, without), own_test["seconds"])
        rows.append(dict(
            test_set=test_set, family=family, dev_models=_models(own_dev), dev_configurations=len(own_dev),
            test_models=_models(own_test), test_configurations=len(own_test),
            noise_dev_pct=_median_pct(own_dev["noise"]), noise_test_pct=_median_pct(own_test["noise"]),
            fit_dev_mape_pct=fit_dev, in_family_test_mape_pct=in_test, in_family_test_max_pct=in_test_max,
            lofo_dev_mape_pct=lofo_dev, lofo_test_mape_pct=lofo_test, lofo_test_max_pct=lofo_test_max,
            in_family_target_pct=IN_FAMILY_TARGET_PERCENT, lofo_target_pct=LOFO_TARGET_PERCENT,
            verdict=verdict(in_test, lofo_test)))
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS)), fits


def fits_frame(fits: Mapping[str, Mapping[str, float]]) -> pd.DataFrame:
    """The fits' parameters as a table (one row per fit), for printing."""
    return pd.DataFrame.from_dict({k: dict(v) for k, v in fits.items()}, orient="index")
