"""The curves file: what it accepts, and every bad file refused in one line naming file, row and rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from costmodel.contracts.curves_file import CURVE_COLUMNS, MEASURED_COLUMNS, load_curves
from costmodel.errors import InputError

GOOD = """algorithm,seed,round,accuracy
astraea,0,1,0.3
astraea,0,2,0.55
fedavg,0,1,0.1
fedavg,0,3,0.5
"""


def _write(tmp_path: Path, text: str, name: str = "c.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_file_reads_with_its_types_order_and_gaps(tmp_path):
    curves = load_curves(_write(tmp_path, GOOD))
    frame = curves.frame
    assert list(frame.columns) == list(CURVE_COLUMNS)
    assert frame["round"].tolist() == [1, 2, 1, 3]          # a gap (fedavg 1 -> 3) is allowed
    assert frame["round"].dtype == np.int64 and frame["accuracy"].dtype == np.float64
    assert curves.algorithms == ("astraea", "fedavg") and curves.seeds("fedavg") == (0,)
    assert not any(curves.has(c) for c in MEASURED_COLUMNS)


def test_columns_in_any_order_extra_columns_ignored_and_measured_ones_kept(tmp_path):
    text = ("loss,accuracy,round,seed,algorithm,round_seconds\n"
            "2.3,0.5,1,4,fedavg,0.01\n"
            "1.9,0.6,2,4,fedavg,0.02\n")
    curves = load_curves(_write(tmp_path, text))
    assert "loss" not in curves.frame.columns and curves.has("round_seconds")
    assert curves.frame["round_seconds"].tolist() == [0.01, 0.02]


@pytest.mark.parametrize("text,message", [
    ("algorithm,seed,accuracy\nastraea,0,0.5\n",
     "'curves' must have the columns algorithm, seed, round, accuracy (got {f} without round, header line 1)."),
    ("algorithm,seed,round,accuracy\n", "'curves' must have at least one data row (got {f} with a header only)."),
    ("", "'curves' must have a header row with the columns algorithm, seed, round, accuracy (got '{f}', which is "
         "empty)."),
    (GOOD + "astraea,0,3,1.2\n", "'curves' must have an accuracy between 0 and 1 (got 1.2 in {f}, row 5 (line 6))."),
    (GOOD + "astraea,0,3,-0.1\n", "'curves' must have an accuracy between 0 and 1 (got -0.1 in {f}, row 5 (line 6))."),
    (GOOD + "astraea,0,3,high\n",
     "'curves' must have a number in column accuracy (got 'high' in {f}, row 5 (line 6))."),
    (GOOD + "astraea,0,3,nan\n",
     "'curves' must have a finite number in column accuracy (got 'nan' in {f}, row 5 (line 6))."),
    (GOOD + "astraea,zero,3,0.6\n", "'curves' must have a number in column seed (got 'zero' in {f}, row 5 (line 6))."),
    (GOOD + "astraea,0,2.5,0.6\n",
     "'curves' must have a whole number >= 0 in column round (got '2.5' in {f}, row 5 (line 6))."),
    (GOOD + "astraea,-1,3,0.6\n",
     "'curves' must have a whole number >= 0 in column seed (got '-1' in {f}, row 5 (line 6))."),
    (GOOD + "astraea,0,2,0.6\n",
     "'curves' must have one row per algorithm, seed and round (got astraea seed 0 round 2 again in {f}, row 5 "
     "(line 6), first in row 2)."),
    ("algorithm,seed,round,accuracy\nfedavg,1,5,0.3\nfedavg,1,4,0.4\n",
     "'curves' must have rounds increasing within an algorithm and seed (got round 4 of fedavg seed 1 in {f}, row 2 "
     "(line 3) after round 5 in row 1)."),
    (GOOD + "FedAvg,0,4,0.6\n",
     "'curves' must name an algorithm of the cost model (astraea, fedavg, fedprox) in column algorithm (got 'FedAvg' "
     "in {f}, row 5 (line 6))."),
    (GOOD + "astraea,0,3\n", "'curves' must have 4 cells in every row, as its header (got 3 in {f}, row 5 (line 6))."),
    (GOOD + "\n", "'curves' must not have blank rows (got one in {f}, row 5 (line 6))."),
    ("algorithm,seed,round,accuracy,round_seconds\nastraea,0,1,0.5,-2\n",
     "'curves' must have a number >= 0 in column round_seconds (got -2 in {f}, row 1 (line 2))."),
    ("algorithm,seed,round,accuracy,setup_bytes\nastraea,0,1,0.5,\n",
     "'curves' must have a number in column setup_bytes (got '' in {f}, row 1 (line 2))."),
])
def test_a_bad_file_is_one_line_naming_file_row_and_rule(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_curves(path)
    assert str(info.value) == message.format(f=path)
    assert "\n" not in str(info.value)


def test_an_unreadable_file_and_the_option_name(tmp_path):
    with pytest.raises(InputError, match=r"^'curves' must be a readable CSV file \(got '.*absent.csv': No such file"):
        load_curves(tmp_path / "absent.csv")
    path = _write(tmp_path, "algorithm,seed,round\n")
    with pytest.raises(InputError, match=r"^'my-curves' must have the columns"):
        load_curves(path, name="my-curves")
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(InputError, match=r"^'curves' must be a readable CSV file .*UnicodeDecodeError"):
        load_curves(binary)
