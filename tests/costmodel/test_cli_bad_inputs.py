"""A table of bad inputs over every command: exit status 2, one line naming the option, no traceback,
nothing created (not even an output folder), and the machine's special files left as they were."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cli_runner import run

LONG = "n" * 300

#: (argv, the start of the message after "astraea-cost CMD: error: "). "{tmp}" is the test's folder,
#: which holds "a-file" (a regular file) and nothing else.
CASES: list[tuple[list[str], str]] = [
    # predict
    (["predict", "--clients-per-round", "-5"], "'clients-per-round' must be >= 1 (got '-5')."),
    (["predict", "--clients-per-round", "0"], "'clients-per-round' must be >= 1 (got '0')."),
    (["predict", "--clients-per-round", "600"], "'clients-per-round' must be <= clients (500) (got 600)."),
    (["predict", "--samples-per-client", "1e300"], "'samples-per-client' must be <= 1e+09 (got '1e300')."),
    (["predict", "--train-flops-per-sample", "1e300"], "'train-flops-per-sample' must be <= 1e+18 FLOP (got '1e300')."),
    (["predict", "--bytes-per-param", "1e300"], "'bytes-per-param' must be <= 16 B/param (got '1e300')."),
    (["predict", "--augmented-fraction", "1e300"], "'augmented-fraction' must be <= 1000 (got '1e300')."),
    (["predict", "--params", "0"], "'params' must be >= 1 (got '0')."),
    (["predict", "--params", "2.5"], "'params' must be a whole number (got '2.5')."),
    (["predict", "--uplink", "5 parsecs"], "'uplink' must be a bandwidth such as '10 Mbit/s' (got '5 parsecs')."),
    (["predict", "--uplink", "0"], "'uplink' must be >= 1 bit/s (got '0')."),
    (["predict", "--uplink", "nan"], "'uplink' must be a bandwidth such as '10 Mbit/s' (got 'nan')."),
    (["predict", "--server-bandwidth", "1e300"], "'server-bandwidth' must be <= 1e+15 bit/s (got '1e300')."),
    (["predict", "--removed-fraction", "100%"], "'removed-fraction' must be < 1 (got '100%')."),
    (["predict", "--gamma", ""], "'gamma' must have a value (got '')."),
    (["predict", "--clients-per-round", "10:1:1"], "'clients-per-round' must be a range whose stop is not below"),
    (["predict", "--clients-per-round", "1:10:0"], "'clients-per-round' must have a range step > 0"),
    (["predict", "--set", "flops_per_s=1e-300"], "'set flops_per_s' must be >= 1000 FLOP/s (got '1e-300')."),
    (["predict", "--set", "flops_per_s=fast"], "'set flops_per_s' must be a FLOP rate such as '99.5 GFLOP/s'"),
    (["predict", "--set", "latency_s=1ms", "--set", "latency_s=2ms"], "'set' must give each coefficient once"),
    (["predict", "--set", "warp=1"], "'set' must name a coefficient, one of flops_per_s"),
    (["predict", "--set", "latency_s"], "'set' must be NAME=VALUE, e.g. latency_s=5ms (got 'latency_s')."),
    (["predict", "--set", "step_s_per_param=5 ns/sample"], "'set step_s_per_param' must be seconds per param"),
    (["predict", "--csv", "/proc/x.csv"], "'csv' must be in a folder where files can be created"),
    (["predict", "--json", "/sys/x.json"], "'json' must be in a folder where files can be created"),
    (["predict", "--csv", "{tmp}/" + LONG + ".csv"], "'csv' must have names of at most 255 bytes"),
    (["predict", "--csv", "{tmp}"], "'csv' must be a file, not a folder"),
    (["predict", "--csv", ""], "'csv' must be a path, not an empty string (got '')."),
    (["predict", "--csv", "{tmp}/x", "--json", "{tmp}/x"], "'json' must differ from 'csv'"),
    (["predict", "--csv", "{tmp}/a-file/x.csv"], "'csv' must be a file in an existing folder"),
    (["predict", "--phases", "--scope", "total"], "'scope' must not be given with --phases"),
    (["predict", "--calibration", "{tmp}/a-file"], "calibration file '{tmp}/a-file' is not valid JSON"),
    (["predict", "--calibration", "{tmp}/absent.json"], "calibration file '{tmp}/absent.json' must be readable"),
    (["predict", "--clients-per-round", "1:1000:1", "--params", "1:1000:1"], "'grid' must have at most 100,000"),
    # solve
    (["solve", "max-clients"], "'budget' must be given for solve max-clients"),
    (["solve", "max-clients", "--budget", "0"], "'budget' must be > 0 (got '0')."),
    (["solve", "max-clients", "--budget=-3s"], "'budget' must be > 0 (got '-3s')."),
    (["solve", "max-clients", "--budget", "1e308"], "'budget' must be <= 1e+09 s (got '1e308')."),
    (["solve", "max-clients", "--budget", "soon"], "'budget' must be a duration such as '1.5 s'"),
    (["solve", "min-bandwidth", "--max-overhead=-1%"], "'max-overhead' must be >= 0 and <= 100,000%"),
    (["solve", "min-bandwidth", "--max-overhead", "lots"], "'max-overhead' must be a fraction such as '20%'"),
    (["solve", "break-even", "--fedavg-rounds", "1e308"], "'fedavg-rounds' must be <= 1e+09 (got '1e308')."),
    (["solve", "break-even", "--fedavg-rounds", "0"], "'fedavg-rounds' must be > 0 (got '0')."),
    (["solve", "break-even", "--fedavg-rounds", "2.5"], "'fedavg-rounds' must be a whole number (got '2.5')."),
    (["solve", "crossover-bandwidth", "--budget", "5s"], "'budget' must not be given for solve crossover-bandwidth"),
    (["solve", "break-even", "--fedavg-rounds", "10", "--algorithm", "fedavg"],
     "'algorithm' must not be given for solve break-even"),
    (["solve", "sensitivity", "--gamma", "0"], "'gamma' must be >= 1 (got '0')."),
    (["solve", "sensitivity", "--clients-per-round", "10,20"], "'clients-per-round' must be a single value for solve"),
    (["solve", "world-peace"], "argument QUESTION: invalid choice: 'world-peace'"),
    # plot
    (["plot", "--out", ""], "'out' must be a path, not an empty string (got '')."),
    (["plot", "--out", "{tmp}/figures", "--calibration", "{tmp}/a-file"], "calibration file '{tmp}/a-file'"),
    (["plot", "--out", "{tmp}/figures", "--mediator-epochs", "1,2"],
     "'mediator-epochs' must be a single value for plot: no figure sweeps it"),
    (["plot", "--out", "{tmp}/figures", "--kind", "traffic", "--uplink", "1,2"],
     "'uplink' must be a single value for plot --kind traffic: only overhead-bandwidth sweeps it"),
    (["plot", "--out", "{tmp}/figures", "--kind", "traffic", "--scope", "total"],
     "'scope' must only be given with an overhead figure"),
    (["plot", "--out", "{tmp}/a-file"], "'out' must be a folder (got"),
    (["plot", "--out", "/proc/figures"], "'out' must be in a folder where files can be created"),
    (["plot", "--out", "{tmp}/" + LONG], "'out' must have names of at most 255 bytes"),
    # formula
    (["formula", "local_training", "--scope", "total"], "'scope' must only be given for an overhead category"),
    (["formula", "warp_drive"], "'PHASE' must be one of"),
    (["formula", "round", "--quantity", "flops"], "'quantity' must be seconds or bytes for 'round'"),
    # report
    (["report", "--out", ""], "'out' must be a path, not an empty string (got '')."),
    (["report", "--out", "{tmp}/r", "--budget", "0s"], "'budget' must be > 0 (got '0s')."),
    (["report", "--out", "{tmp}/r", "--budget", "1e308"], "'budget' must be <= 1e+09 s (got '1e308')."),
    (["report", "--out", "{tmp}/r", "--clients-per-round", "10,20"],
     "'clients-per-round' must be a single value for report"),
    (["report", "--out", "{tmp}/r", "--calibration", "{tmp}/a-file"], "calibration file '{tmp}/a-file'"),
    (["report", "--out", "/proc/r"], "'out' must be in a folder where files can be created"),
    # run and compare
    (["run", "--out", ""], "'out' must be a path, not an empty string (got '')."),
    (["run", "--out", "{tmp}/r", "--uplink", "5 parsecs"], "'uplink' must be a bandwidth such as '10 Mbit/s'"),
    (["run", "--out", "{tmp}/r", "--clients", "10000"], "'clients' must be <= the 539 samples left after global"),
    (["run", "--out", "{tmp}/r", "--batch-size", "0"], "'batch-size' must be >= 1 (got 0)."),
    (["run", "--out", "{tmp}/r", "--seed", "-1"], "'seed' must be >= 0 (got -1)."),
    (["run", "--out", "{tmp}/r", "--clients-per-round", "30"], "'clients-per-round' must be <= 'clients' (20)"),
    (["run", "--out", "{tmp}/r", "--tau-d", "abc"], "argument --tau-d/--threshold: 'tau-d' must be a number"),
    (["run", "--out", "{tmp}/r", "--timeout", "10ms", "--network", "local"], "'timeout' must be >= 1 s"),
    (["run", "--out", "/proc/r"], "'out' must be in a folder where files can be created"),
    (["compare", "--out", "{tmp}/c", "--seeds=-1"], "'seeds' must be >= 0 (got -1)."),
    (["compare", "--out", "{tmp}/c", "--seeds", "1", "1"], "'seeds' must not repeat a seed (got 1 1)."),
    (["compare", "--out", ""], "'out' must be a path, not an empty string (got '')."),
    # profile, calibrate, validate
    (["profile", "--out", ""], "'out' must be a path, not an empty string (got '')."),
    (["profile", "--out", "/proc/p"], "'out' must be in a folder where files can be created"),
    (["calibrate", "--runs", "{tmp}/absent"], "'runs' must be an existing folder"),
    (["calibrate", "--runs", "{tmp}", "--out", "/proc/x"], "'out' must be in a folder where files can be created"),
    (["calibrate", "--runs", "{tmp}", "--out", "{tmp}/" + LONG], "'out' must have names of at most 255 bytes"),
    (["validate", "--out", "{tmp}/a-file"], "'out' must be a folder (got"),
    (["validate", "--calibration", "{tmp}/absent.json", "--out", "{tmp}/v"], "calibration file '{tmp}/absent.json'"),
]


def test_the_table_covers_every_command_with_at_least_sixty_inputs() -> None:
    assert len(CASES) >= 60
    assert {argv[0] for argv, _ in CASES} >= {"predict", "solve", "plot", "formula", "report", "run", "compare",
                                             "profile", "calibrate", "validate"}


@pytest.mark.parametrize(("argv", "message"), CASES, ids=[" ".join(a)[:60] for a, _ in CASES])
def test_bad_input_is_one_line_exit_2_and_creates_nothing(argv: list[str], message: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a-file").write_text("not a folder, not a calibration")
    monkeypatch.chdir(tmp_path)           # default output folders would land here
    before = sorted(os.listdir(tmp_path))
    filled = [part.replace("{tmp}", str(tmp_path)) for part in argv]
    status, out, err = run(filled, capsys)
    assert status == 2, (out, err)
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"astraea-cost {argv[0]}: error: {message.replace('{tmp}', str(tmp_path))}"), err
    assert sorted(os.listdir(tmp_path)) == before      # nothing created, not even an empty folder


def test_a_symlink_is_followed_and_a_fifo_without_reader_is_one_line(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "target.csv"
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    status, _, err = run(["predict", "--csv", str(link)], capsys)
    assert status == 0, err
    assert link.is_symlink() and target.read_text().startswith("scenario,")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    status, _, err = run(["predict", "--json", str(fifo)], capsys)
    assert status == 2 and err == ("astraea-cost predict: error: 'json' must be a FIFO that a process is reading "
                                   f"(got {str(fifo)!r}: no reader).\n")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.csv", "pipe", "target.csv"]
