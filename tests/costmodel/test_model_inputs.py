"""``--model-inputs FILE`` for predict, solve, plot and report, ``predict --model``, and the file's rules."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from cli_runner import run

from costmodel.cli.commands import FLOPS_HELP
from costmodel.contracts.model_inputs import load_model_inputs, parse_input_shape, write_model_inputs
from costmodel.errors import InputError

INPUTS = {"params": 1_250_858, "train_flops_per_sample": 122_677_248.0, "conv_input_values": 57_440,
          "sample_values": 3072, "classes": 10, "elementwise_values": 283_326, "autograd_nodes": 33, "conv_calls": 8}
SAME_AS_OPTIONS = ["--params", "1250858", "--train-flops-per-sample", "122677248", "--conv-input-values", "57440",
                   "--sample-values", "3072", "--classes", "10", "--elementwise-values", "283326",
                   "--autograd-nodes", "33", "--conv-calls", "8"]


@pytest.fixture
def inputs_file(tmp_path):
    path = tmp_path / "keras.json"
    write_model_inputs(path, INPUTS, model={"name": "keras-cifar", "input_shape": [3, 32, 32]})
    return path


def _table(out: str) -> str:
    return out.split("\n\n")[0]          # the table, without the line that says where the inputs came from


def test_the_file_round_trips_and_is_what_describe_model_writes(inputs_file):
    assert load_model_inputs(inputs_file) == INPUTS
    document = json.loads(inputs_file.read_text())
    assert document["schema"] == "astraea-cost model inputs" and document["version"] == 1


def test_predict_with_the_file_is_predict_with_the_same_options(inputs_file, capsys):
    status, with_file, err = run(["predict", "--model-inputs", str(inputs_file)], capsys)
    assert status == 0, err
    status, with_options, _ = run(["predict", *SAME_AS_OPTIONS], capsys)
    assert _table(with_file) == _table(with_options)
    assert f"with the model inputs of {inputs_file}" in with_file
    status, default, _ = run(["predict"], capsys)
    assert _table(default) != _table(with_file)


def test_options_given_win_over_the_file(inputs_file, capsys):
    status, out, _ = run(["predict", "--model-inputs", str(inputs_file), "--params", "2M", "--phases"], capsys)
    status, expected, _ = run(["predict", *SAME_AS_OPTIONS[2:], "--params", "2M", "--phases"], capsys)
    assert _table(out) == _table(expected)


@pytest.mark.parametrize("command", [["solve", "max-clients", "--budget", "30s"], ["solve", "sensitivity"]])
def test_solve_takes_the_file(inputs_file, capsys, command):
    status, with_file, err = run([*command, "--model-inputs", str(inputs_file)], capsys)
    assert status == 0, err
    assert with_file == run([*command, *SAME_AS_OPTIONS], capsys)[1]


def test_plot_takes_the_file(inputs_file, tmp_path, capsys):
    status, _, err = run(["plot", "--kind", "round-time", "--model-inputs", str(inputs_file), "--out",
                          str(tmp_path / "figures")], capsys)
    assert status == 0, err
    assert (tmp_path / "figures" / "round_time_vs_clients.png").stat().st_size > 0


def test_report_counts_the_file_as_your_scenario(inputs_file):
    from costmodel.cli import report
    from costmodel.cli.dispatch import build_parser

    args = build_parser().parse_args(["report", "--model-inputs", str(inputs_file)])
    scenario, description = report.custom_scenario(args)
    assert scenario.params == INPUTS["params"] and scenario.conv_calls == 8
    assert description == f"from the input defaults (the TPDS EMNIST setup) with --model-inputs {inputs_file}."
    assert report.custom_scenario(build_parser().parse_args(["report"])) is None


def _write(tmp_path, document) -> str:
    path = tmp_path / "bad.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return str(path)


@pytest.mark.parametrize("document,message", [
    ({"inputs": {"parameters": 5}}, "'model-inputs' must hold only inputs of the cost model ({inputs}) "
                                    "(got 'parameters' in '{path}')."),
    ({"inputs": {"params": 0}}, "'model-inputs params' must be >= 1 (got 0)."),
    ({"inputs": {"conv_calls": 2.5}}, "'model-inputs conv_calls' must be an integer (got 2.5)."),
    ({"inputs": {"params": "5"}}, "'model-inputs params' must be a number (got '5')."),
    ({"inputs": {"train_flops_per_sample": True}}, "'model-inputs train_flops_per_sample' must be a number (got True)."),
    ({"params": 5}, "'model-inputs' must be a JSON object with an 'inputs' object (got '{path}')."),
    ({"inputs": {}, "extra": 1}, "'model-inputs' must have only the keys schema, version, inputs, model "
                                 "(got 'extra' in '{path}')."),
    ({"inputs": {}, "version": 2}, "'model-inputs' must be a 'astraea-cost model inputs' file of version 1 "
                                   "(got schema None, version 2 in '{path}')."),
    ("{not json", "'model-inputs' must be a JSON file (Expecting property name enclosed in double quotes at line 1 "
                  "column 2) (got '{path}')."),
    ('{"inputs": {"params": NaN}}', "'model-inputs' must not contain NaN (JSON has no such number) (got '{path}')."),
])
def test_a_bad_file_is_one_line_and_exit_2(tmp_path, capsys, document, message):
    from costmodel.model.quantities import INPUTS as ALL

    path = _write(tmp_path, document)
    status, out, err = run(["predict", "--model-inputs", path], capsys)
    assert status == 2 and out == ""
    assert err == f"astraea-cost predict: error: {message.format(path=path, inputs=', '.join(ALL))}\n"


def test_a_missing_file(tmp_path, capsys):
    status, _, err = run(["solve", "sensitivity", "--model-inputs", str(tmp_path / "none.json")], capsys)
    assert status == 2
    assert err == (f"astraea-cost solve: error: 'model-inputs' must be a readable file (No such file or directory) "
                   f"(got '{tmp_path / 'none.json'}').\n")


@pytest.mark.parametrize("argv,message", [
    (["--input-shape", "1x28x28"], "'input-shape' must be given with --model only (got '1x28x28')."),
    (["--model-width", "2"], "'model-width' must be given with --model only (got '2')."),
    (["--model", "tpds"], "'input-shape' must be given with --model, one sample's shape such as 1x28x28 or 3x32x32 "
                          "(got --model 'tpds' alone)."),
    (["--model", "tpds", "--model-inputs", "x.json"],
     "'model' must not be given with --model-inputs, which gives the same inputs (got 'tpds')."),
    (["--model", "tpds", "--input-shape", "28x28"],
     "'input-shape' must be CxHxW, three positive integers such as 3x32x32 (got '28x28')."),
    (["--model", "tpds", "--input-shape", "1x28x28", "--classes", "10,47"],
     "'classes' must be a single value with --model (the model's output width) (got '10,47')."),
])
def test_predict_model_options_are_checked(capsys, argv, message):
    status, _, err = run(["predict", *argv], capsys)
    assert status == 2 and err == f"astraea-cost predict: error: {message}\n"


def test_predict_model_measures_it_on_the_spot(capsys):
    status, measured, err = run(["predict", "--model", "tpds", "--input-shape", "1x28x28"], capsys)
    assert status == 0, err
    assert _table(measured) == _table(run(["predict"], capsys)[1])   # the defaults are the TPDS CNN's inputs
    status, _, err = run(["predict", "--model", "resnet50", "--input-shape", "1x28x28"], capsys)
    assert status == 2 and err.startswith("astraea-cost predict: error: 'model' must be one of ")


def test_predict_with_a_file_stays_torch_free(inputs_file):
    code = ("import sys; from costmodel.cli import main; "
            f"status = main(['predict', '--model-inputs', {str(inputs_file)!r}]); "
            "assert status == 0; assert 'torch' not in sys.modules, 'torch loaded'; print('TORCH-FREE')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "TORCH-FREE" in done.stdout


def test_the_help_says_what_f_counts():
    from costmodel.cli.dispatch import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices
    for command in ("predict", "solve", "plot", "report"):
        helps = {a.dest: a.help for a in sub[command]._actions}
        assert FLOPS_HELP in helps["model_inputs"] and FLOPS_HELP in helps["input_train_flops_per_sample"]
    assert FLOPS_HELP in {a.dest: a.help for a in sub["predict"]._actions}["model"]
    assert FLOPS_HELP == ("training FLOPs per sample: forward and backward, one multiply-add = 2 FLOPs, about 3x a "
                          "forward count")


@pytest.mark.parametrize("text,shape", [("3x32x32", (3, 32, 32)), ("1 x 28 x 28", (1, 28, 28)),
                                        ("3,32,32", (3, 32, 32)), ("3X32X32", (3, 32, 32))])
def test_input_shapes(text, shape):
    assert parse_input_shape(text) == shape


@pytest.mark.parametrize("text", ["3x32", "0x28x28", "axbxc", "3x32x32x1", "", "-1x2x2"])
def test_bad_input_shapes(text):
    with pytest.raises(InputError, match=r"^'input-shape' must be CxHxW, three positive integers such as 3x32x32 "):
        parse_input_shape(text)


def test_write_refuses_what_it_could_not_read(tmp_path):
    with pytest.raises(InputError, match=r"^'model-inputs' must hold only inputs of the cost model"):
        write_model_inputs(tmp_path / "x.json", {"flops": 1}, model={})
    assert not (tmp_path / "x.json").exists()
