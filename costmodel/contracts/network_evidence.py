"""The network evidence stored beside the embedded calibration: what ``link-sweep`` and
``validate-network`` measured over real shaped links, so the figures the docs quote are printed from data.

The in-process validation table lives in the calibration file itself
(:attr:`~costmodel.contracts.calibration_file.Calibration.validation`). The two network checks need
root and a different engine, so they are stored apart, in ``costmodel/data/default_network_evidence.json``:

``links``
    ``astraea-cost link-sweep --embed``: the alpha-beta link fit's held-out error over veth pairs
    shaped by ``tc tbf`` (:data:`LINK_FIELDS`).
``network``
    ``astraea-cost validate-network --embed``: distributed runs (one process per client) over shaped
    links predicted from their configuration; one row per algorithm, link and quantity
    (:data:`NETWORK_ROW_FIELDS`), with the 1-minute load average when it ran (a busy host stretches
    the wall clock).

Either part may be absent (``null``) until it is measured. Reading checks every field and fails in
one line naming the file and the problem.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from costmodel.errors import InputError
from costmodel.files import atomic_write_text, check_output_file

__all__ = [
    "DEFAULT_NETWORK_EVIDENCE_RESOURCE",
    "LINK_FIELDS",
    "NETWORK_EVIDENCE_SCHEMA_VERSION",
    "NETWORK_FIELDS",
    "NETWORK_ROW_FIELDS",
    "NetworkEvidence",
    "embedded_network_evidence_path",
    "load_network_evidence",
    "write_network_evidence",
]

NETWORK_EVIDENCE_SCHEMA_VERSION = 1
DEFAULT_NETWORK_EVIDENCE_RESOURCE = ("costmodel", "data/default_network_evidence.json")
#: What the link sweep stores: its date, transfers fitted, R^2, held-out MAPE and max error, repeat noise.
LINK_FIELDS: tuple[str, ...] = ("created", "n_transfers", "r_squared", "heldout_mape_pct",
                                "heldout_max_abs_pct_error", "noise_cv_pct")
#: One row of the distributed validation (as ``calibration.network_validation`` computes it).
NETWORK_ROW_FIELDS: tuple[str, ...] = ("algorithm", "uplink_bits_per_s", "downlink_bits_per_s", "quantity", "n",
                                       "measured_s", "noise_percent", "predicted_s", "ape_percent")
#: The distributed validation: its date, the calibration it checked, the host's load, the rows.
NETWORK_FIELDS: tuple[str, ...] = ("created", "calibration_created", "load_average", "rows")
_TEXT_FIELDS = {"created", "calibration_created", "algorithm", "quantity"}


@dataclass(frozen=True)
class NetworkEvidence:
    """The stored network checks; ``links``/``network`` are ``None`` until measured (module docstring)."""

    links: Mapping[str, Any] | None = None
    network: Mapping[str, Any] | None = None

    def network_frame(self) -> pd.DataFrame:
        """The distributed validation's rows (empty, with the columns, when not measured)."""
        rows = [] if self.network is None else list(self.network["rows"])
        return pd.DataFrame(rows, columns=list(NETWORK_ROW_FIELDS))

    def network_summary(self) -> pd.DataFrame:
        """Per quantity, in the rows' order: ``quantity, n, mape_percent, max_ape_percent, noise_percent``
        (mean absolute error over the links and algorithms, its maximum, the mean repeat noise)."""
        frame = self.network_frame()
        if frame.empty:
            return pd.DataFrame(columns=["quantity", "n", "mape_percent", "max_ape_percent", "noise_percent"])
        grouped = frame.groupby("quantity", sort=False)
        return pd.DataFrame({"n": grouped["n"].sum(), "mape_percent": grouped["ape_percent"].mean(),
                             "max_ape_percent": grouped["ape_percent"].max(),
                             "noise_percent": grouped["noise_percent"].mean()}).reset_index()

    def to_json_dict(self) -> dict[str, Any]:
        network = None if self.network is None else {**self.network, "rows": [dict(r) for r in self.network["rows"]]}
        return {"schema_version": NETWORK_EVIDENCE_SCHEMA_VERSION,
                "links": None if self.links is None else dict(self.links), "network": network}


def _check_fields(part: str, data: object, fields: tuple[str, ...], origin: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InputError(f"network evidence '{origin}' must have '{part}' as an object or null "
                         f"(got {type(data).__name__}).")
    missing = [f for f in fields if f not in data]
    unknown = sorted(set(data) - set(fields))
    if missing or unknown:
        raise InputError(f"network evidence '{origin}' must have exactly the fields {', '.join(fields)} in "
                         f"'{part}' (missing {', '.join(missing) or 'none'}; unknown {', '.join(unknown) or 'none'}).")
    for name, value in data.items():
        if name == "rows":
            continue
        if name in _TEXT_FIELDS:
            ok = isinstance(value, str) and bool(value)
        else:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if not ok:
            kind = "a non-empty string" if name in _TEXT_FIELDS else "a finite number"
            raise InputError(f"network evidence '{origin}' must have '{part}.{name}' as {kind} (got {value!r}).")
    return data


def _parse(data: object, origin: str) -> NetworkEvidence:
    if not isinstance(data, dict) or data.get("schema_version") != NETWORK_EVIDENCE_SCHEMA_VERSION:
        got = data.get("schema_version") if isinstance(data, dict) else type(data).__name__
        raise InputError(f"network evidence '{origin}' must have schema_version {NETWORK_EVIDENCE_SCHEMA_VERSION} "
                         f"(got {got!r}).")
    unknown = sorted(set(data) - {"schema_version", "links", "network"})
    if unknown:
        raise InputError(f"network evidence '{origin}' must not have the fields {', '.join(unknown)}.")
    links = data.get("links")
    network = data.get("network")
    if links is not None:
        links = _check_fields("links", links, LINK_FIELDS, origin)
    if network is not None:
        network = dict(_check_fields("network", network, NETWORK_FIELDS, origin))
        rows = network["rows"]
        if not isinstance(rows, list) or not rows:
            raise InputError(f"network evidence '{origin}' must have 'network.rows' as a non-empty list.")
        network["rows"] = tuple(_check_fields("network.rows", row, NETWORK_ROW_FIELDS, origin) for row in rows)
    return NetworkEvidence(links=links, network=network)


def embedded_network_evidence_path() -> Path:
    """Where the package's stored network evidence lives on disk."""
    package, name = DEFAULT_NETWORK_EVIDENCE_RESOURCE
    return Path(str(resources.files(package).joinpath(name)))


def load_network_evidence(path: str | os.PathLike[str] | None = None) -> NetworkEvidence:
    """Read and check a network-evidence file; ``None`` reads the embedded one (absent: nothing measured)."""
    target = embedded_network_evidence_path() if path is None else Path(path)
    origin = os.fspath(target) if path is not None else "<embedded default_network_evidence.json>"
    if path is None and not target.exists():
        return NetworkEvidence()
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError(f"network evidence '{origin}' must be readable ({error.strerror or error}).") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"network evidence '{origin}' must be JSON ({error}).") from None
    return _parse(data, origin)


def write_network_evidence(path: str | os.PathLike[str], evidence: NetworkEvidence, *,
                           name: str = "evidence") -> Path:
    """Write ``evidence`` atomically; ``name`` is the option an error names."""
    check_output_file(name, path)
    _parse(json.loads(json.dumps(evidence.to_json_dict())), os.fspath(path))   # never write what cannot be read
    return atomic_write_text(path, json.dumps(evidence.to_json_dict(), indent=2, allow_nan=False) + "\n", name=name)
