"""Your own model in the calibration: ``profile --model`` adds its short sweep, ``calibrate --model`` fits only
when its runs are there, ``validate --model`` adds held-out runs labelled with it; a bad model is one line
with exit status 2 before any folder exists."""

from __future__ import annotations

import textwrap
from dataclasses import replace

import pytest

import calibration.cli as calibration_cli
from calibration.sweep import SweepDesign, load_runs, run_sweep
from calibration.user_model import joined, model_heldout, model_sweep
from calibration.validate import compare_runs, heldout_design
from costmodel import cli
from costmodel.contracts.calibration_file import load_calibration
from reference_impl.config import RunConfig

DENSE = """
    from torch import nn

    def build(input_shape, num_classes):
        c, h, w = input_shape
        return nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, 16), nn.ReLU(), nn.Linear(16, num_classes))
"""
TINY = dict(model_width=0.25, clients=4, clients_per_round=2, gamma=2, rounds=2, batch_size=32, evaluate=False,
            threads=1, seed=4)


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    path = tmp_path_factory.mktemp("nets") / "dense.py"
    path.write_text(textwrap.dedent(DENSE), encoding="utf-8")
    return f"{path}:build"


@pytest.fixture(scope="module")
def profiled(tmp_path_factory, spec):
    """Tiny runs of the TPDS layout and a residual net (enough to identify the coefficients) and two of the
    dense model."""
    digits = RunConfig(algorithm="astraea", dataset="digits", model="scaled", **TINY)
    emnist = RunConfig(algorithm="astraea", dataset="emnist-shape", samples=200, model="scaled", **TINY)
    wider = replace(emnist, model_width=0.5, clients_per_round=3)
    mine = replace(emnist, model=spec, model_width=1.0)
    colour = replace(emnist, dataset="cinic-shape")        # 3 channels: augmentation's values and pixels told apart
    everyone = replace(digits, clients_per_round=4)         # a third c: rescheduling's terms told apart
    residual = replace(emnist, model="resnet", algorithm="fedavg")   # nodes and convolution calls told apart
    configs = (digits, replace(digits, algorithm="fedavg"), emnist, replace(emnist, algorithm="fedavg"), wider,
               colour, everyone, mine, replace(mine, algorithm="fedavg"), residual)
    folder = tmp_path_factory.mktemp("profiled")
    run_sweep(SweepDesign(configs=configs, repetitions=(2, 1, 1, 1, 1, 1, 1, 1, 1, 1), name="tiny"), folder, progress=False,
              probe_every=None)
    return folder


def test_the_short_sweep_and_the_held_out_runs(spec):
    sweep = model_sweep(spec)
    assert len(sweep) == 8 and {c.model for c in sweep.configs} == {spec}
    assert {(c.algorithm, c.batch_size, c.samples // c.clients) for c in sweep.configs} == {
        (a, b, n) for a in ("astraea", "fedavg") for b in (10, 50) for n in (50, 200)}
    held = model_heldout(spec, dataset="cinic-shape")
    assert len(held) == 6 and {(c.batch_size, c.dataset, c.seed) for c in held.configs} == {(16, "cinic-shape", 7)}
    both = joined(sweep, held)
    assert len(both) == 14 and both.name == sweep.name


@pytest.mark.parametrize("command", [["profile", "--out", "{tmp}/p"], ["validate", "--out", "{tmp}/v"],
                                     ["calibrate", "--runs", "{tmp}", "--out", "{tmp}/c.json"]])
def test_a_bad_model_is_one_line_before_any_work(command, tmp_path, capsys, monkeypatch):
    def no_work(*args, **kwargs):
        raise AssertionError("work started before the model was checked")

    monkeypatch.setattr(calibration_cli, "run_sweep", no_work)
    monkeypatch.setattr(calibration_cli, "run_validation", no_work)
    monkeypatch.setattr(calibration_cli, "load_runs", no_work)
    bad = tmp_path / "bad.py"
    bad.write_text("from torch import nn\ndef build(num_classes):\n    return nn.Linear(5, num_classes)\n")
    argv = [a.format(tmp=tmp_path) for a in command] + ["--model", f"{bad}:build"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"astraea-cost {command[0]}: error: 'model' must run a forward and backward pass on a batch "
                          f"of shape (2, 1, 28, 28)") and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.py"]


def test_profile_adds_the_models_sweep(spec, tmp_path, monkeypatch, capsys):
    ran = []
    monkeypatch.setattr(calibration_cli, "run_sweep", lambda design, out, **kw: ran.append(design) or [])
    assert cli.main(["profile", "--quick", "--no-probe", "--out", str(tmp_path / "p"), "--model", spec]) == 0
    design = ran[0]
    assert sum(c.model == spec for c in design.configs) == 8 and design.name == "quick"
    assert "quick sweep: " in capsys.readouterr().out


def test_calibrate_fits_only_when_the_runs_hold_the_model(spec, profiled, tmp_path, capsys):
    out = tmp_path / "c.json"
    assert cli.main(["calibrate", "--runs", str(profiled), "--out", str(out), "--bootstrap", "0", "--model", spec]) == 0
    assert load_calibration(out).coefficients["flops_per_s"] > 0
    capsys.readouterr()
    assert cli.main(["calibrate", "--runs", str(profiled), "--out", str(tmp_path / "d.json"), "--model", "mlp"]) == 2
    assert capsys.readouterr().err == (
        f"astraea-cost calibrate: error: 'model' must have profiled runs in {str(profiled)!r} (run 'astraea-cost "
        f"profile --model mlp --out {profiled}' first) (got 'mlp').\n")
    assert not (tmp_path / "d.json").exists()


def test_validate_runs_the_models_held_out_runs_and_labels_its_rows(spec, profiled, tmp_path, monkeypatch):
    designs = []

    def capture(calibration, folder, *, design, progress):
        designs.append(design)
        raise KeyboardInterrupt          # stop before running: the design is what this test checks

    monkeypatch.setattr(calibration_cli, "run_validation", capture)
    assert cli.main(["validate", "--out", str(tmp_path / "v"), "--model", spec, "--quiet"]) == 130
    assert sum(c.model == spec for c in designs[0].configs) == 2 and len(designs[0]) == len(heldout_design()) + 6
    assert not (tmp_path / "v").exists()

    trace, runs = load_runs(profiled)
    points, _ = compare_runs(trace, runs, load_calibration(None))
    assert {f"local_training ({spec})", f"round ({spec})"} <= set(points["phase"])
    assert "local_training" in set(points["phase"])           # the TPDS layout's rows stay where they were
