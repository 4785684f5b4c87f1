"""``solve time-to-accuracy`` and ``solve break-even --curves`` on the command line: the printed answer is
the library's, "never reaches" is an answer (exit 0), and every bad input is one line with exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cli_runner import run
from costmodel.analysis.time_to_accuracy import break_even_from_curves, time_to_accuracy
from costmodel.contracts.calibration_file import default_calibration
from costmodel.contracts.curves_file import load_curves
from costmodel.model.scenario import Scenario
from costmodel.units import format_bytes, format_seconds

GOOD = "algorithm,seed,round,accuracy\n" + "".join(
    f"{algorithm},{seed},{r},{0.8 if r >= at else 0.1}\n"
    for algorithm, reach in (("astraea", (9, 10, 11)), ("fedavg", (55, 60, 65)))
    for seed, at in enumerate(reach) for r in range(1, 81))
HEADER = "algorithm,seed,round,accuracy\n"


@pytest.fixture()
def good(tmp_path: Path) -> Path:
    path = tmp_path / "curves.csv"
    path.write_text(GOOD, encoding="utf-8")
    return path


def test_the_printed_answer_is_the_library_s(good, tmp_path, capsys):
    figure = tmp_path / "t.png"
    status, out, err = run(["solve", "time-to-accuracy", "--target", "0.5", "--curves", str(good),
                            "--uplink", "inf", "--downlink", "inf", "--figure", str(figure)], capsys)
    assert status == 0, err
    answer = time_to_accuracy(load_curves(good), 0.5, Scenario.emnist(uplink_bits_per_s=float("inf"),
                                                                       downlink_bits_per_s=float("inf")),
                              default_calibration().coefficients)
    for name, title in (("astraea", "Astraea"), ("fedavg", "FedAvg")):
        item = answer.algorithms[name]
        line = next(line for line in out.splitlines() if line.strip().startswith(title))
        assert (f"{format_seconds(item.mean_seconds)} [{format_seconds(item.low_seconds)}, "
                f"{format_seconds(item.high_seconds)}]") in line
        assert f"{format_bytes(item.mean_bytes)} [" in line
        assert f"{item.rounds.mean_rounds:.1f} [{item.rounds.low_rounds:g}, {item.rounds.high_rounds:g}]" in line
    assert "faster: Astraea" in out and "3/3 seeds" not in out and "(3 seeds per algorithm)" in out
    assert out.count("where the faster one changes") == 1 and "client bandwidth (uplink = downlink)" in out
    assert figure.stat().st_size > 10_000 and f"wrote {figure}" in err


def test_never_reaching_the_target_is_an_answer(good, capsys):
    status, out, err = run(["solve", "time-to-accuracy", "--target", "0.9", "--curves", str(good)], capsys)
    assert status == 0, err
    assert "faster: none: no algorithm reaches 0.9 in every seed within the measured rounds" in out
    assert "not bounded: 3 seed(s) never within 80" in out


def test_break_even_takes_fedavg_s_rounds_from_the_curves(good, capsys):
    status, out, err = run(["solve", "break-even", "--curves", str(good), "--target", "50%"], capsys)
    assert status == 0, err
    solution = break_even_from_curves(load_curves(good), 0.5, Scenario.emnist(), default_calibration().coefficients)
    assert f"  answer: {solution.value:,.0f} rounds" in out and "  fedavg_rounds: 60" in out
    assert f"  breaks_even: {'yes' if solution.details['breaks_even'] else 'no'}" in out


BAD_FILES = {
    "missing-column.csv": ("algorithm,seed,accuracy\nastraea,0,0.5\n", "without round, header line 1"),
    "non-monotone.csv": (HEADER + "fedavg,0,2,0.1\nfedavg,0,1,0.2\n",
                         "must have rounds increasing within an algorithm and seed (got round 1 of fedavg seed 0"),
    "accuracy.csv": (HEADER + "fedavg,0,1,57\n", "must have an accuracy between 0 and 1 (got 57 in"),
    "non-numeric.csv": (HEADER + "fedavg,0,one,0.5\n", "must have a number in column round (got 'one' in"),
    "duplicate.csv": (HEADER + "fedavg,0,1,0.1\nastraea,0,1,0.1\nfedavg,0,1,0.1\n",
                      "must have one row per algorithm, seed and round (got fedavg seed 0 round 1 again in"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_a_bad_curves_file_is_one_line_naming_file_row_and_rule(name, tmp_path, capsys):
    text, needle = BAD_FILES[name]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    figure = tmp_path / "never.png"
    status, out, err = run(["solve", "time-to-accuracy", "--target", "0.5", "--curves", str(path),
                            "--figure", str(figure)], capsys)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("astraea-cost solve: error: 'curves' must") and needle in err
    assert str(path) in err and (name == "missing-column.csv" or "row " in err)
    assert not figure.exists()


@pytest.mark.parametrize("argv,message", [
    (["time-to-accuracy", "--target", "0.5"], "'curves' must be given for solve time-to-accuracy"),
    (["time-to-accuracy", "--curves", "{good}"], "'target' must be given for solve time-to-accuracy"),
    (["time-to-accuracy", "--curves", "{good}", "--target", "0"],
     "'target' must be an accuracy > 0 and <= 1 (e.g. 0.6 or 60%) (got '0')."),
    (["time-to-accuracy", "--curves", "{good}", "--target", "1.5"], "'target' must be an accuracy > 0 and <= 1"),
    (["time-to-accuracy", "--curves", "{good}", "--target", "good"], "'target' must be a fraction such as '20%'"),
    (["time-to-accuracy", "--curves", "{good}", "--target", "0.5", "--resamples", "0"],
     "'resamples' must be >= 1 and <= 1,000,000 (got '0')."),
    (["time-to-accuracy", "--curves", "{good}", "--target", "0.5", "--resamples", "2.5"],
     "'resamples' must be a whole number (got '2.5')."),
    (["time-to-accuracy", "--curves", "{good}", "--target", "0.5", "--confidence", "100%"],
     "'confidence' must be > 0 and < 100% (e.g. 95%) (got '100%')."),
    (["time-to-accuracy", "--curves", "{good}", "--target", "0.5", "--bootstrap-seed", "-1"],
     "'bootstrap-seed' must be >= 0 (got '-1')."),
    (["time-to-accuracy", "--curves", "{good}", "--target", "0.5", "--figure", "/proc/t.png"],
     "'figure' must be in a folder where files can be created"),
    (["time-to-accuracy", "--curves", "{good}", "--target", "0.5", "--figure", "{tmp}"],
     "'figure' must be a file, not a folder"),
    (["time-to-accuracy", "--curves", "{tmp}/absent.csv", "--target", "0.5"],
     "'curves' must be a readable CSV file (got '{tmp}/absent.csv': No such file or directory)."),
    (["time-to-accuracy", "--curves", "{good}", "--target", "0.5", "--gamma", "0"], "'gamma' must be >= 1 (got '0')."),
    (["time-to-accuracy", "--curves", "{good}", "--target", "0.5", "--vary", "clients"], "argument --vary: invalid"),
    (["max-clients", "--budget", "3s", "--curves", "{good}"],
     "'curves' must not be given for solve max-clients: only time-to-accuracy and break-even read it"),
    (["break-even", "--curves", "{good}", "--target", "0.5", "--vary", "gamma"],
     "'vary' must not be given for solve break-even: only time-to-accuracy reads it (got 'gamma')."),
    (["break-even", "--curves", "{good}", "--target", "0.5", "--fedavg-rounds", "60"],
     "'fedavg-rounds' must not be given with --curves: the curves give FedAvg's rounds (got '60')."),
    (["break-even", "--curves", "{good}"], "'target' must be given for solve break-even"),
])
def test_bad_options_are_one_line_exit_2(argv, message, good, tmp_path, capsys):
    argv = [part.format(good=good, tmp=tmp_path) for part in argv]
    before = sorted(p.name for p in tmp_path.iterdir())
    status, out, err = run(["solve", *argv], capsys)
    assert status == 2 and out == ""
    assert message.format(tmp=tmp_path) in err and err.count("\n") == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before      # nothing created


def test_without_a_figure_the_question_never_imports_matplotlib(good):
    code = ("import sys\n"
            "from costmodel import cli\n"
            f"status = cli.main(['solve', 'time-to-accuracy', '--target', '0.5', '--curves', {str(good)!r}])\n"
            "assert 'matplotlib' not in sys.modules and 'torch' not in sys.modules\n"
            "sys.exit(status)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
