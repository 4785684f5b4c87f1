"""``describe-model`` on a model written to a temporary file, ``run --model PATH.py:FUNCTION``, and bad models as
one line with exit status 2 before any file or folder exists."""

from __future__ import annotations

import json
import re
import textwrap

import pytest

from costmodel.cli import main
from costmodel.contracts.model_inputs import load_model_inputs

#: 784*64 + 64 + 64*47 + 47 = 53,295 parameters on 1x28x28 with 47 classes.
MODEL = """
    from torch import nn

    def build(input_shape, num_classes):
        c, h, w = input_shape
        return nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, 64), nn.ReLU(), nn.Linear(64, num_classes))
"""
PARAMS = 784 * 64 + 64 + 64 * 47 + 47


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "my_model.py"
    path.write_text(textwrap.dedent(MODEL), encoding="utf-8")
    return f"{path}:build"


def _run(argv, capsys):
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = int(exit_.code or 0)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_describe_model_prints_and_writes_the_exact_parameter_count(spec, tmp_path, capsys):
    target = tmp_path / "inputs.json"
    status, out, err = _run(["describe-model", spec, "--input-shape", "1x28x28", "--classes", "47", "--json",
                             str(target)], capsys)
    assert status == 0, err
    assert re.search(r"^params +P +53,295 +parameters$", out, re.MULTILINE) and PARAMS == 53_295
    # dense layers only: F = 2*(2*784*64) (first layer) + 3*(2*64*47) per sample
    flops = 2 * 2 * 784 * 64 + 3 * 2 * 64 * 47
    assert f"{flops:,}" in out and "FlopCounterMode gives the same" in out
    document = json.loads(target.read_text())
    assert document["inputs"]["params"] == PARAMS and document["inputs"]["train_flops_per_sample"] == flops
    assert document["inputs"]["classes"] == 47 and document["inputs"]["conv_input_values"] == 0
    assert document["model"]["input_shape"] == [1, 28, 28] and document["model"]["name"] == spec
    assert load_model_inputs(target) == document["inputs"]


def test_json_without_a_file_name_writes_model_inputs_json_here(spec, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, _, err = _run(["describe-model", spec, "--input-shape", "1x28x28", "--classes", "47", "--json"], capsys)
    assert status == 0, err
    assert load_model_inputs(tmp_path / "model-inputs.json")["params"] == PARAMS


def test_a_built_in_family_with_a_width(capsys):
    status, out, _ = _run(["describe-model", "vit", "--input-shape", "3x32x32", "--model-width", "0.5"], capsys)
    assert status == 0
    assert out.startswith("vit, width 0.5 on 3x32x32 samples, 10 classes")
    assert "attention" in out and "it counts CPU attention as 0" in out


@pytest.mark.parametrize("argv,message", [
    (["--input-shape", "1x28"], "'input-shape' must be CxHxW, three positive integers such as 3x32x32 (got '1x28')."),
    (["--input-shape", "1x28x28", "--classes", "0"], "'classes' must be >= 1 (got 0)."),
    (["--input-shape", "1x28x28", "--model-width", "2"],
     "'model-width' must be 1.0 for the fixed model '{spec}' (the width families are scaled, mlp, resnet, "
     "mobilenet, vit) (got 2.0)."),
    (["--input-shape", "3x32x32"],
     "'model' must run a forward and backward pass on a batch of shape (2, 3, 32, 32) (RuntimeError: mat1 and mat2 "
     "shapes cannot be multiplied (2x3072 and 784x64)) (got '{spec}')."),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, argv, message):
    path = tmp_path / "mnist_only.py"           # a model made for 1x28x28 whatever the shape it is given
    path.write_text(textwrap.dedent(MODEL).replace("c * h * w", "784"), encoding="utf-8")
    spec = f"{path}:build"
    status, out, err = _run(["describe-model", spec, *argv, "--json", str(tmp_path / "x.json")], capsys)
    assert status == 2 and out == ""
    assert err == f"astraea-cost describe-model: error: {message.format(spec=spec)}\n"
    assert not (tmp_path / "x.json").exists()


def test_run_with_a_model_of_ones_own_records_a_trace(spec, tmp_path, capsys):
    out = tmp_path / "run"
    status, stdout, err = _run(["run", "--model", spec, "--dataset", "emnist-shape", "--samples", "240", "--clients", "6",
                                "--clients-per-round", "4", "--gamma", "2", "--rounds", "1", "--batch-size", "16",
                                "--no-eval", "--quiet", "--out", str(out)], capsys)
    assert status == 0, err
    assert f"{PARAMS:,} parameters" in stdout
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["model"] == spec
    summary = run["summary"]
    assert summary["params"] == PARAMS and summary["conv_input_values"] == 0 and summary["conv_calls"] == 0
    assert summary["train_flops_per_sample"] == 2 * 2 * 784 * 64 + 3 * 2 * 64 * 47
    assert {"elementwise_values", "autograd_nodes", "train_flops_by_class"} <= set(summary)
    trace = (out / "trace.csv").read_text().splitlines()
    training = [line for line in trace if ",local_training," in line]
    assert len(training) == 4                        # the 4 clients of the one round trained


@pytest.mark.parametrize("command", [["run"], ["compare", "--seeds", "0"]])
def test_a_bad_model_stops_run_and_compare_before_any_folder(tmp_path, capsys, command):
    path = tmp_path / "broken.py"
    path.write_text("from torch import nn\ndef build(num_classes):\n    return nn.Linear(3, num_classes)\n")
    status, _, err = _run([*command, "--model", f"{path}:build", "--out", str(tmp_path / "o")], capsys)
    assert status == 2
    assert err.startswith(f"astraea-cost {command[0]}: error: 'model' must run a forward and backward pass on a batch "
                          f"of shape (2, 1, 28, 28) (RuntimeError: ") and err.count("\n") == 1
    assert not (tmp_path / "o").exists()
