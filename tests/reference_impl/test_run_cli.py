"""``astraea-cost run``: bad arguments give one line and exit status 2; a small run writes its files."""

import json
import subprocess
import sys

import pytest

from costmodel.cli import main


@pytest.mark.parametrize("argv,needle", [
    (["--clients", "0"], "'clients' must be >= 1 (got 0)."),
    (["--clients", "-4"], "'clients' must be >= 1 (got -4)."),
    (["--gamma", "0"], "'gamma' must be >= 1 (got 0)."),
    (["--clients", "5", "--clients-per-round", "6"], "'clients-per-round' must be <= 'clients' (5) (got 6)."),
    (["--clients", "10000", "--clients-per-round", "10"],
     "'clients' must be <= the 539 samples left after global imbalance (got 10000)."),   # before any work
    (["--batch-size", "0"], "'batch-size' must be >= 1 (got 0)."),
    (["--seed", "-1"], "'seed' must be >= 0 (got -1)."),
    (["--uplink", "5 parsecs"], "'uplink' must be a bandwidth such as '10 Mbit/s' (got '5 parsecs')."),
    (["--out", ""], "'out' must be a path, not an empty string (got '')."),
    (["--dataset", "mnist"], "'dataset' must be one of digits, emnist-shape, cinic-shape (got 'mnist')."),
    (["--clients", "ten"], "'clients' must be an integer (got 'ten')."),
    (["--tau-d", "abc"], "'tau-d' must be a number (got 'abc')."),
    (["--rounds", "2.5"], "'rounds' must be an integer (got '2.5')."),
    (["--model", "tpds", "--model-width", "0.5"],
     "'model-width' must be 1.0 for the fixed model 'tpds' (the width families are scaled, mlp, resnet, mobilenet, "
     "vit) (got 0.5)."),
])
def test_bad_arguments_exit_2_with_one_line(argv, needle, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        status = main(["run", "--out", str(tmp_path / "o"), *argv])
        raise SystemExit(status)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1, err
    assert list(tmp_path.iterdir()) == []     # nothing created, not even the folder


def test_unwritable_output_folder_exits_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["run", "--out", str(blocker / "sub")]) == 2
    err = capsys.readouterr().err
    assert "'out' must be a folder path" in err and err.count("\n") == 1


def test_a_small_run_from_the_command_line(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "costmodel.cli", "run", "--clients", "6", "--clients-per-round", "4",
                           "--gamma", "2", "--rounds", "1", "--quiet", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "round_s" in proc.stdout and "final accuracy" in proc.stdout
    no_eval = subprocess.run([sys.executable, "-m", "costmodel.cli", "run", "--clients", "6", "--clients-per-round",
                              "4", "--gamma", "2", "--rounds", "1", "--quiet", "--no-eval", "--out", str(tmp_path / "n")],
                             capture_output=True, text=True, timeout=300)
    assert no_eval.returncode == 0, no_eval.stderr
    assert "accuracy not evaluated (--no-eval)" in no_eval.stdout and "nan" not in no_eval.stdout.lower()
    meta = json.loads((out / "run.json").read_text())
    assert meta["schema_version"] == 1 and meta["config"]["gamma"] == 2


def test_config_names_agree_with_the_registries_and_values_are_coerced():
    from reference_impl.config import DATASET_NAMES, MODEL_NAMES, RunConfig
    from reference_impl.data.datasets import DATASETS
    from reference_impl.models import MODELS
    assert set(DATASET_NAMES) == set(DATASETS) and set(MODEL_NAMES) == set(MODELS)
    config = RunConfig(clients=20.0, gamma="4", model="scaled", model_width="2")
    assert (config.clients, config.gamma, config.model_width) == (20, 4, 2.0)
    assert isinstance(config.clients, int)
