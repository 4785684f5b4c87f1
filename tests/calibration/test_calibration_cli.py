"""``astraea-cost profile / calibrate / validate``: end to end on tiny runs, one-line errors with exit 2
before any work, nothing half-written, the embedded default regenerated only with --embed."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

import calibration.cli as calibration_cli
import calibration.validate as validate_module
from calibration.sweep import SweepDesign, run_sweep
from costmodel import cli
from costmodel.contracts.calibration_file import load_calibration
from reference_impl.config import RunConfig

TINY = dict(model="scaled", model_width=0.25, clients=4, clients_per_round=2, gamma=2, rounds=2, batch_size=32,
            evaluate=False, threads=1, seed=4)


def tiny_design(seed: int = 4) -> SweepDesign:
    digits = RunConfig(algorithm="astraea", dataset="digits", **dict(TINY, seed=seed))
    emnist = RunConfig(algorithm="astraea", dataset="emnist-shape", samples=200, **dict(TINY, seed=seed))
    wider = replace(emnist, model_width=0.5, clients_per_round=3)   # other conv sizes and c: terms told apart
    everyone = replace(digits, clients_per_round=4)                  # a third c: rescheduling's terms told apart
    colour = replace(emnist, dataset="cinic-shape")                  # 3 channels: values and pixels told apart
    # two other families: autograd nodes and convolution calls apart from the TPDS layout's
    dense, residual = replace(emnist, model="mlp", algorithm="fedavg"), replace(emnist, model="resnet", algorithm="fedavg")
    configs = (digits, replace(digits, algorithm="fedavg"), emnist, replace(emnist, algorithm="fedavg"), wider,
               everyone, colour, dense, residual)
    return SweepDesign(configs=configs, repetitions=(2, 1, 1, 1, 1, 1, 1, 1, 1), name="tiny")


@pytest.fixture(scope="module")
def profiled(tmp_path_factory):
    folder = tmp_path_factory.mktemp("profiled")
    run_sweep(tiny_design(), folder, progress=False, probe_every=None)
    return folder


@pytest.fixture
def main():
    return cli.main


def test_the_three_commands_are_declared_with_their_defaults():
    from costmodel.cli.dispatch import build_parser

    parser = build_parser()
    args = parser.parse_args(["calibrate"])
    assert (args.runs, args.out, args.embed, args.bootstrap, args.communication) == \
        ("calibration-runs", "calibration.json", False, 200, None)
    args = parser.parse_args(["validate", "--out", "v"])
    assert (args.calibration, args.out, args.runs, args.embed) == (None, "v", None, False)
    args = parser.parse_args(["profile", "--quick"])
    assert args.quick and args.out == "calibration-runs" and args.handler == "calibration.cli:profile"


def test_calibrate_writes_a_loadable_file_and_embeds_only_when_asked(profiled, tmp_path, main, monkeypatch, capsys):
    embedded = tmp_path / "embedded.json"
    monkeypatch.setattr(calibration_cli, "embedded_calibration_path", lambda: embedded)
    out = tmp_path / "calibration.json"
    assert main(["calibrate", "--runs", str(profiled), "--out", str(out), "--bootstrap", "5"]) == 0
    printed = capsys.readouterr().out
    assert "Calibration fit on 10 runs" in printed and "flops_per_s" in printed
    calibration = load_calibration(out)
    assert calibration.fit["runs"] == 10 and "fixed_s" in calibration.fit
    assert not embedded.exists()
    assert main(["calibrate", "--runs", str(profiled), "--out", str(out), "--bootstrap", "0", "--embed"]) == 0
    assert load_calibration(embedded).coefficients == load_calibration(out).coefficients


def test_calibrate_takes_link_coefficients_from_a_link_sweep(profiled, tmp_path, main):
    link = tmp_path / "communication_fit.json"
    link.write_text(json.dumps({"coefficients": {
        "latency_s": {"value": 3e-4, "stderr": 1e-5, "unit": "s"},
        "link_efficiency": {"value": 0.95, "stderr": 0.002, "unit": "1"},
        "message_overhead_bytes": {"value": 70.0, "stderr": 9.0, "unit": "B"}}}))
    out = tmp_path / "c.json"
    assert main(["calibrate", "--runs", str(profiled), "--out", str(out), "--bootstrap", "0",
                 "--communication", str(link)]) == 0
    calibration = load_calibration(out)
    assert calibration.coefficients["latency_s"] == 3e-4      # the link's own; message_s is fitted apart
    assert calibration.coefficients["message_s"] == pytest.approx(calibration.fit["inprocess_latency_s"])
    assert calibration.coefficients["message_overhead_bytes"] == 70.0


@pytest.mark.parametrize("arguments, message", [
    (["calibrate", "--runs", "{tmp}/absent"], "'runs' must be an existing folder"),
    (["calibrate", "--runs", "{tmp}"], "'runs' must hold finished runs"),
    (["calibrate", "--runs", "{profiled}", "--out", "{tmp}/no/such/folder/c.json"],
     "'out' must be a file in an existing folder"),
    (["calibrate", "--runs", "{profiled}", "--out", "{tmp}"], "'out' must be a file, not a folder"),
    (["calibrate", "--runs", "{profiled}", "--out", "/proc/c.json"], "'out' must be in a folder where files can"),
    (["calibrate", "--runs", "{profiled}", "--out", "{tmp}/" + "c" * 300 + ".json"],
     "'out' must have names of at most 255 bytes"),
    (["calibrate", "--runs", "{profiled}", "--out", "{tmp}/c.json", "--communication", "{tmp}/none.json"],
     "'communication' must be a readable file"),
    (["calibrate", "--bootstrap", "-3"], "'bootstrap' must be"),
    (["profile", "--out", "{file}"], "'out' must be a folder (got"),
    (["profile", "--out", ""], "'out' must be a path, not an empty string"),
    (["validate", "--calibration", "{tmp}/missing/absent.json", "--out", "{tmp}/v"],
     "'calibration' must be a file in an existing folder"),
    (["validate", "--calibration", "{tmp}/absent.json", "--out", "{tmp}/v"], "must be readable"),
    (["validate", "--calibration", "{file}", "--out", "{tmp}/v"], "calibration file"),
    (["validate", "--embed", "--calibration", "{file}"], "'calibration' must not be given with --embed"),
    (["validate", "--out", "{file}"], "'out' must be a folder (got"),
    (["profile", "--out", "{tmp}/p", "--repetitions", "0"], "'repetitions' must be an integer >= 1 (got '0')"),
    (["profile", "--out", "{tmp}/p", "--probe-every", "0"], "'probe-every' must be an integer >= 1 (got '0')"),
])
def test_bad_input_is_one_line_and_exit_2_before_any_work(arguments, message, profiled, tmp_path, main, capsys,
                                                           monkeypatch):
    def no_work(*args, **kwargs):
        raise AssertionError("work started before the input was checked")

    monkeypatch.setattr("calibration.sweep.run_sweep", no_work)
    monkeypatch.setattr("calibration.validate.run_validation", no_work)
    monkeypatch.setattr(calibration_cli, "embedded_calibration_path", lambda: tmp_path / "embedded.json")
    (tmp_path / "embedded.json").write_text("{}")
    afile = tmp_path / "a-file"
    afile.write_text("not a folder, not a calibration")
    filled = [a.format(tmp=tmp_path, profiled=profiled, file=afile) for a in arguments]
    try:
        status = main(filled)
    except SystemExit as exc:          # argparse's own complaints
        status = exc.code
    assert status == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "c.json").exists()


def test_validate_runs_the_heldout_design_and_stores_the_table(profiled, tmp_path, main, monkeypatch, capsys):
    monkeypatch.setattr(validate_module, "heldout_design", lambda: tiny_design(seed=9))
    cal = tmp_path / "calibration.json"
    assert main(["calibrate", "--runs", str(profiled), "--out", str(cal), "--bootstrap", "0"]) == 0
    out = tmp_path / "validation"
    assert main(["validate", "--calibration", str(cal), "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "Validation on 10 held-out runs" in printed and "round_bytes" in printed
    for name in ("validation.csv", "validation_points.csv", "parity.png", "calibration.json"):
        assert (out / name).is_file()
    assert len(list((out / "runs").iterdir())) == 10
    stored = load_calibration(cal)
    phases = {row["phase"] for row in stored.validation}
    assert {"local_training", "round", "round_bytes"} <= phases
    assert load_calibration(out / "calibration.json").validation == stored.validation
    assert not any(p.name.endswith(".tmp") for p in out.iterdir())


def test_a_design_that_cannot_identify_the_coefficients_is_refused(profiled, tmp_path, main, capsys):
    import shutil

    one = tmp_path / "one-run"
    first = sorted(p for p in profiled.iterdir() if p.is_dir())[0]
    shutil.copytree(first, one / first.name)
    out = tmp_path / "c.json"
    assert main(["calibrate", "--runs", str(one), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("astraea-cost calibrate: error: 'runs' must vary what the ") and err.count("\n") == 1
    assert "cannot be told apart: their regressors are proportional in every row" in err
    assert not out.exists()
