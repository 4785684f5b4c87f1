import math
import os
import stat
import threading

import pytest

from costmodel.errors import InputError, check_int, check_number, relabel
from costmodel.files import (
    atomic_path,
    atomic_write_text,
    check_distinct_outputs,
    check_output_file,
    check_output_folder,
    create_output_folder,
    output_folder,
)


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


def test_relabel_names_the_option_as_typed_and_leaves_other_messages_alone():
    error = InputError("'num_clients' must be <= 'samples' (40) (got 50).")
    assert str(relabel(error, num_clients="clients")) == "'clients' must be <= 'samples' (40) (got 50)."
    assert relabel(error, seed="seeds") is error


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path):
    target = tmp_path / "out.txt"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half-writ")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_a_symlink_is_followed_to_its_target_and_stays_a_link(tmp_path):
    target = tmp_path / "real.csv"
    target.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    assert check_output_file("csv", link) == target
    atomic_write_text(link, "new")
    assert link.is_symlink() and target.read_text() == "new"
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(tmp_path / "later.csv")
    atomic_write_text(dangling, "made")
    assert dangling.is_symlink() and (tmp_path / "later.csv").read_text() == "made"


def test_a_fifo_is_written_through_never_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert check_output_file("csv", fifo) == fifo
    received: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as pipe:   # a reader waiting in open() already counts as one
            received.append(pipe.read())

    reader = threading.Thread(target=read)
    reader.start()
    for _ in range(500):   # until the thread has reached open()
        try:
            atomic_write_text(fifo, "a,b\n1,2\n", name="csv")
            break
        except InputError as error:
            assert "no reader" in str(error)
            threading.Event().wait(0.01)
    reader.join(timeout=5)
    assert received == [b"a,b\n1,2\n"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]   # no temporary file left


def test_a_fifo_without_a_reader_is_one_line(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match=r"^'json' must be a FIFO that a process is reading .*no reader\)\.$"):
        atomic_write_text(fifo, "{}", name="json")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")
def test_a_character_device_is_written_through(tmp_path):
    null = tmp_path / "null"
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))   # the null device, in a temporary folder
    atomic_write_text(null, "discarded", name="csv")
    assert stat.S_ISCHR(os.stat(null).st_mode)
    full = tmp_path / "full"
    os.mknod(full, stat.S_IFCHR | 0o666, os.makedev(1, 7))   # the full device: every write fails
    with pytest.raises(InputError, match=r"^'csv' could not be written \(got .*full': No space left on device\)\.$"):
        atomic_write_text(full, "x" * 10, name="csv")
    assert stat.S_ISCHR(os.stat(full).st_mode)


def test_folders_and_odd_paths_are_refused_in_one_line(tmp_path):
    with pytest.raises(InputError, match=r"^'csv' must be a file, not a folder"):
        check_output_file("csv", tmp_path)
    with pytest.raises(InputError, match=r"^'csv' must be a path, not an empty string \(got ''\)\.$"):
        check_output_file("csv", "")
    with pytest.raises(InputError, match=r"^'out' must be a path, not an empty string"):
        check_output_folder("out", "")
    with pytest.raises(InputError, match=r"^'csv' must have names of at most 255 bytes"):
        check_output_file("csv", tmp_path / ("x" * 300 + ".csv"))
    with pytest.raises(InputError, match=r"^'out' must have names of at most 255 bytes"):
        check_output_folder("out", tmp_path / "a" / ("y" * 256))
    with pytest.raises(InputError, match=r"^'csv' must be in a folder where files can be created"):
        check_output_file("csv", "/proc/x.csv")        # os.access says yes to root; creating says no
    with pytest.raises(InputError, match=r"^'out' must be in a folder where files can be created"):
        check_output_folder("out", "/proc/astraea-cost-test")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match=r"^'out' must be a folder path \(got .*is not a folder\)\.$"):
        check_output_folder("out", blocker / "sub")
    with pytest.raises(InputError, match=r"^'csv' must be a file in an existing folder"):
        check_output_file("csv", blocker / "sub.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]   # nothing created by a check


def test_two_outputs_naming_one_file_are_refused(tmp_path):
    check_distinct_outputs(csv=tmp_path / "a", json=tmp_path / "b", other=None)
    with pytest.raises(InputError, match=r"^'json' must differ from 'csv'"):
        check_distinct_outputs(csv=tmp_path / "a", json=str(tmp_path / "." / "a"))


@pytest.mark.parametrize("failure", [RuntimeError("boom"), KeyboardInterrupt()])
def test_an_output_folder_created_for_a_failed_command_is_removed(tmp_path, failure):
    target = tmp_path / "new" / "deeper"
    with pytest.raises(type(failure)):
        with output_folder("out", target) as folder:
            (folder / "half.csv").write_text("x")
            raise failure
    assert not (tmp_path / "new").exists()
    existing = tmp_path / "kept"
    existing.mkdir()
    with pytest.raises(type(failure)):
        with output_folder("out", existing) as folder:
            raise failure
    assert existing.is_dir()   # a folder that existed before is never removed


def test_a_resumable_output_folder_keeps_finished_work(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with output_folder("out", tmp_path / "sweep", keep_contents=True) as folder:
            (folder / "run-1").mkdir()
            (folder / "run-1" / "run.json").write_text("{}")
            raise KeyboardInterrupt
    assert (tmp_path / "sweep" / "run-1" / "run.json").is_file()
    with pytest.raises(KeyboardInterrupt):
        with output_folder("out", tmp_path / "empty", keep_contents=True):
            raise KeyboardInterrupt
    assert not (tmp_path / "empty").exists()


def test_create_output_folder_makes_missing_parents(tmp_path):
    assert create_output_folder("out", tmp_path / "a" / "b").is_dir()
