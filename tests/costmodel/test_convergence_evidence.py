"""The convergence stored with the package: the embedded manifest reads with its curves, and a bad
manifest fails in one line naming the file and the problem."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from costmodel.contracts.convergence_evidence import load_convergence, write_convergence
from costmodel.errors import InputError
from costmodel.model.scenario import Scenario


def test_the_embedded_convergence_reads_with_both_setups_and_their_seeds():
    evidence = load_convergence()
    assert [s.key for s in evidence.setups] == ["digits-shards", "digits-papers"]
    for setup in evidence.setups:
        assert setup.seeds == (0, 1, 2, 3, 4) and setup.heldout_seeds == (5, 6, 7)
        for curves, seeds in ((setup.curves, setup.seeds), (setup.heldout_curves, setup.heldout_seeds)):
            assert curves.algorithms == ("astraea", "fedavg")
            assert all(curves.seeds(a) == seeds for a in curves.algorithms)
            assert len(curves.frame) == 2 * len(seeds) * 200
            assert all(curves.has(c) for c in ("round_seconds", "round_bytes", "setup_seconds", "setup_bytes"))
        assert setup.config["dataset"] == "digits" and setup.config["rounds"] == 200
        # the development scenario is each input's mean over the development seeds' planned scenarios
        plans = [setup.scenarios[s] for s in setup.seeds]
        assert setup.scenario.augmented_fraction == pytest.approx(sum(p.augmented_fraction for p in plans) / 5)
        assert setup.scenario.clients_per_round == 10 and math.isinf(setup.scenario.uplink_bits_per_s)
    assert evidence.setup("digits-papers").config["local_imbalance"] == "dirichlet"
    assert len(evidence.load_average) == 2


def _manifest(tmp_path: Path) -> dict:
    """A valid manifest of one setup with tiny curves, written beside it."""
    rows = "algorithm,seed,round,accuracy\n"
    (tmp_path / "dev.csv").write_text(rows + "astraea,0,1,0.5\nfedavg,0,1,0.4\n", encoding="utf-8")
    (tmp_path / "held.csv").write_text(rows + "astraea,1,1,0.5\nfedavg,1,1,0.4\n", encoding="utf-8")
    scenario = {k: ("inf" if isinstance(v, float) and math.isinf(v) else v)
                for k, v in Scenario.emnist(uplink_bits_per_s=math.inf).as_dict().items()}
    return {"created": "2026-12-02", "command": "python -m calibration.convergence --out x",
            "machine": {"cpu": "test"}, "load_average": [0.5, 0.7],
            "setups": [{"key": "tiny", "title": "Tiny", "description": "two rows", "config": {"dataset": "digits"},
                        "seeds": [0], "heldout_seeds": [1], "curves": "dev.csv", "heldout_curves": "held.csv",
                        "scenarios": {"0": scenario, "1": scenario}}]}


def test_a_manifest_round_trips(tmp_path):
    path = write_convergence(tmp_path / "m.json", _manifest(tmp_path))
    evidence = load_convergence(path)
    assert evidence.setup("tiny").scenario == Scenario.emnist(uplink_bits_per_s=math.inf)
    assert evidence.load_average == (0.5, 0.7)
    with pytest.raises(InputError, match=r"^'key' must be one of tiny \(got 'other'\)\.$"):
        evidence.setup("other")


@pytest.mark.parametrize("change,message", [
    (lambda m: m.update(schema_version=2), "must have schema_version 1 (got 2)"),
    (lambda m: m.pop("machine"), "must have exactly the fields schema_version, created, command, machine"),
    (lambda m: m.update(load_average=[1.0]), "must have 'load_average' as two numbers >= 0 (got [1.0])"),
    (lambda m: m["setups"][0].update(heldout_seeds=[0]),
     "must keep the held-out seeds of setup tiny apart from its seeds (both hold [0])"),
    (lambda m: m["setups"][0].update(seeds=[0, 2]), "must have 'scenarios' of setup tiny for exactly its seeds"),
    (lambda m: m["setups"][0].update(curves="held.csv"),
     "must have the seeds of setup tiny in its curves file (got astraea seeds [1], expected [0])"),
    (lambda m: m["setups"][0]["scenarios"]["0"].update(clients_per_round=0),
     "must have 'scenarios.0' of setup tiny as valid cost-model inputs ('clients_per_round' must be >= 1 (got 0).)"),
    (lambda m: m["setups"][0].pop("title"), "must have setups with exactly the fields key, title, description"),
])
def test_a_bad_manifest_is_one_line(tmp_path, change, message):
    manifest = {"schema_version": 1, **_manifest(tmp_path)}
    change(manifest)
    path = tmp_path / "m.json"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_convergence(path)
    assert str(info.value).startswith(f"convergence evidence '{path}' must") and message in str(info.value)
    assert "\n" not in str(info.value)


def test_a_manifest_whose_curves_are_bad_is_never_written(tmp_path):
    manifest = _manifest(tmp_path)
    (tmp_path / "dev.csv").write_text("algorithm,seed,round,accuracy\nastraea,0,1,7\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"'curves' must have an accuracy between 0 and 1 \(got 7 in .*dev.csv"):
        write_convergence(tmp_path / "m.json", manifest)
    assert not (tmp_path / "m.json").exists() and not (tmp_path / ".m.json.check").exists()
