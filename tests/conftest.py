"""Shared test set-up: every test runs as if on the CPU the embedded calibration was measured on, so
the one-line note a command prints for a calibration from another CPU (``Calibration.machine_problem``)
depends on the test, not on the machine CI happens to run on (test_cli_trust.py tests the note)."""

from __future__ import annotations

import pytest

from costmodel.contracts.calibration_file import default_calibration


@pytest.fixture(autouse=True)
def _on_the_calibration_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu = str(default_calibration().machine["cpu"])
    torch = default_calibration().machine.get("torch_version")
    for module in ("costmodel.cli.tables", "costmodel.report.markdown"):
        monkeypatch.setattr(f"{module}.cpu_name", lambda: cpu)
        monkeypatch.setattr(f"{module}.torch_version", lambda: torch)
