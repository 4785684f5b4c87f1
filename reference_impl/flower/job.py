"""What the Flower app of a run reads: the run's configuration as Flower's run config, and the app's project.

A Flower App (a FAB) is a project folder whose ``pyproject.toml`` names the ServerApp and ClientApp
and carries the run config (``[tool.flwr.app.config]``). The launcher writes one per run
(:func:`write_app`): the components are this package's modules, so the FAB itself is only that file,
and the run config holds every :class:`~reference_impl.config.RunConfig` field (dashes for
underscores) plus what the ServerApp needs to run and report (:class:`FlowerJob`). Flower ships the
run config to the SuperLink and every SuperNode, so the ServerApp and every ClientApp process read
the same configuration from their ``Context.run_config``. This module imports neither torch nor flwr.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from reference_impl.config import RunConfig

__all__ = ["APP_PROJECT", "FlowerJob", "FlowerRunError", "write_app"]

#: The project (and folder) name of every run's FAB.
APP_PROJECT = "astraeaflower"
_COMPONENTS = {"serverapp": "reference_impl.flower.server_app:app",
               "clientapp": "reference_impl.flower.client_app:app"}
_CONFIG_FIELDS = tuple(f.name for f in fields(RunConfig))


class FlowerRunError(RuntimeError):
    """A Flower run failed; the one-line message names the client (or the process) and how."""


@dataclass(frozen=True, kw_only=True)
class FlowerJob:
    """One run of the Flower app, as its run config carries it.

    Attributes
    ----------
    config : the run's configuration.
    run_id : the trace's run id.
    folder : where the ServerApp writes ``result.pkl``, ``error.txt`` and ``progress``.
    timeout_s : the longest a client may take to answer one message beyond its transfers; a
        message's deadline adds twice its transfer time at ``slowest_bits_per_s``.
    slowest_bits_per_s : the slowest shaped rate (``inf`` on loopback).
    poll_s : how often the ServerApp asks the SuperLink for replies.
    nodes_timeout_s : how long the ServerApp waits for every SuperNode to connect.
    """

    config: RunConfig
    run_id: str
    folder: str
    timeout_s: float
    slowest_bits_per_s: float
    poll_s: float = 0.05
    nodes_timeout_s: float = 120.0

    @property
    def result_path(self) -> Path:
        return Path(self.folder) / "result.pkl"

    @property
    def error_path(self) -> Path:
        return Path(self.folder) / "error.txt"

    @property
    def progress_path(self) -> Path:
        return Path(self.folder) / "progress"

    def deadline_s(self, payload_bytes: int) -> float:
        """How long one message may stay unanswered: ``timeout_s + 2 * 2 * 8 * bytes / slowest rate``
        (there and back, each at most twice its time at the slowest rate)."""
        return self.timeout_s + 4.0 * 8.0 * payload_bytes / self.slowest_bits_per_s

    def run_config(self) -> dict[str, bool | int | float | str]:
        """The job as Flower run-config values (TOML scalars; dashes for underscores)."""
        values: dict[str, Any] = {name.replace("_", "-"): value for name, value in self.config.as_dict().items()}
        values.update({"run-id": self.run_id, "folder": self.folder, "timeout-s": float(self.timeout_s),
                       "slowest-bits-per-s": float(self.slowest_bits_per_s), "poll-s": float(self.poll_s),
                       "nodes-timeout-s": float(self.nodes_timeout_s)})
        return values

    @classmethod
    def from_run_config(cls, values: Mapping[str, Any]) -> FlowerJob:
        """The job of a ``Context.run_config`` written by :meth:`run_config`."""
        config = RunConfig(**{name: values[name.replace("_", "-")] for name in _CONFIG_FIELDS})
        return cls(config=config, run_id=str(values["run-id"]), folder=str(values["folder"]),
                   timeout_s=float(values["timeout-s"]), slowest_bits_per_s=float(values["slowest-bits-per-s"]),
                   poll_s=float(values["poll-s"]), nodes_timeout_s=float(values["nodes-timeout-s"]))

    def as_dict(self) -> dict[str, Any]:
        return dict(asdict(self), config=self.config.as_dict())


def _toml(value: bool | int | float | str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    return json.dumps(str(value))      # a TOML basic string: JSON's escapes are TOML's


def write_app(folder: str | Path, job: FlowerJob) -> Path:
    """Write the run's Flower App project (``<folder>/astraeaflower/pyproject.toml``); return its folder."""
    app = Path(folder) / APP_PROJECT
    app.mkdir(parents=True, exist_ok=True)
    lines = [
        "[build-system]", 'requires = ["hatchling"]', 'build-backend = "hatchling.build"', "",
        "[project]", f'name = "{APP_PROJECT}"', 'version = "1.0.0"',
        'description = "Astraea, FedAvg and FedProx of astraea-cost as a Flower App"', "dependencies = []", "",
        "[tool.hatch.build.targets.wheel]", 'packages = ["."]', "",
        "[tool.flwr.app]", 'publisher = "astraea-cost"', "",
        "[tool.flwr.app.components]", *(f"{key} = {_toml(value)}" for key, value in _COMPONENTS.items()), "",
        "[tool.flwr.app.config]", *(f"{key} = {_toml(value)}" for key, value in job.run_config().items()), "",
    ]
    (app / "pyproject.toml").write_text("\n".join(lines), encoding="utf-8")
    return app
