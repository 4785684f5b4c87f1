import math

import pytest

from costmodel.errors import InputError, check_int, check_number
from costmodel.files import atomic_path, atomic_write_text, ensure_writable_dir


def test_messages_follow_the_attrs_wording():
    with pytest.raises(InputError, match=r"^'bandwidth' must be > 0 \(got -3.0\)\.$"):
        check_number("bandwidth", -3.0, exclusive_minimum=0)
    with pytest.raises(InputError, match=r"^'gamma' must be >= 1 \(got 0\)\.$"):
        check_int("gamma", 0, minimum=1)
    with pytest.raises(InputError, match=r"^'clients' must be an integer \(got 'ten'\)\.$"):
        check_int("clients", "ten")
    with pytest.raises(InputError, match="finite"):
        check_number("x", math.nan)
    assert check_int("c", "12") == 12 and check_number("b", "2.5") == 2.5


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path):
    target = tmp_path / "out.txt"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half-writ")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_unwritable_folder_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match=r"^'out' must be a writable folder"):
        ensure_writable_dir("out", blocker / "sub")
