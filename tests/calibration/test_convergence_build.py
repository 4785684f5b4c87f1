"""python -m calibration.convergence: a tiny setup measured into a folder the cost model reads back, the
scenarios planned from the configuration, and finished curves kept on a second call."""

from __future__ import annotations

import dataclasses
import math

from calibration.convergence import MeasuredSetup, architecture, build, main, planned_scenario
from calibration.scenario import scenario_from_workload
from costmodel.contracts.convergence_evidence import load_convergence
from reference_impl.config import RunConfig
from reference_impl.workload import plan_workload

TINY = MeasuredSetup(key="tiny", title="Tiny", description="six clients, two rounds",
                     config=RunConfig(dataset="digits", clients=6, clients_per_round=4, gamma=2, rounds=2,
                                      model="scaled", model_width=0.25),
                     seeds=(0,), heldout_seeds=(1,))


def test_a_tiny_build_reads_back_and_a_second_build_keeps_its_curves(tmp_path):
    path = build(tmp_path / "out", (TINY,), progress=False)
    evidence = load_convergence(path)
    setup = evidence.setup("tiny")
    assert setup.curves.algorithms == ("astraea", "fedavg") and setup.heldout_curves.seeds("fedavg") == (1,)
    assert setup.config["clients"] == 6 and "seed" not in setup.config and "algorithm" not in setup.config
    planned = scenario_from_workload(plan_workload(dataclasses.replace(TINY.config, seed=1, algorithm="astraea")),
                                     architecture(TINY.config))
    assert setup.scenarios[1] == planned and math.isinf(planned.uplink_bits_per_s)
    links = ("uplink_bits_per_s", "downlink_bits_per_s", "server_bits_per_s")
    stored = planned_scenario(dataclasses.replace(TINY.config, seed=1))
    assert [stored[k] for k in links] == ["inf"] * 3         # JSON has no infinity
    assert {k: v for k, v in stored.items() if k not in links} == \
        {k: v for k, v in planned.as_dict().items() if k not in links}
    stamps = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").glob("*.csv")}
    assert sorted(stamps) == ["tiny-heldout.csv", "tiny.csv"]
    build(tmp_path / "out", (TINY,), progress=False)
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").glob("*.csv")} == stamps


def test_a_bad_output_folder_is_one_line_and_exit_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["--out", str(blocker / "sub"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'out' must be a folder path" in err
