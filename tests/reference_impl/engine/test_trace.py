import json

import pandas as pd
import pytest

from costmodel.errors import InputError
from reference_impl.engine.trace import TRACE_COLUMNS, RunRecord, TraceRecorder, read_run, write_run


def _recorder():
    rec = TraceRecorder(run_id="r1", algorithm="astraea")
    rec.record(round=-1, phase="distribution_report", entity="client:0", start_s=0.0, duration_s=1e-5, bytes=392)
    rec.record(round=0, phase="local_training", entity="client:0", start_s=0.1, duration_s=0.5,
               flops=1e9, samples=100, steps=10)
    return rec


def test_round_trip_keeps_columns_dtypes_and_values(tmp_path):
    rec = _recorder()
    frame = rec.to_frame()
    assert list(frame.columns) == list(TRACE_COLUMNS)
    write_run(tmp_path, RunRecord(run_id="r1", algorithm="astraea", trace=frame, config={"gamma": 5}))
    back = read_run(tmp_path)
    assert back.config == {"gamma": 5}
    pd.testing.assert_frame_equal(back.trace, frame)
    assert rec.bytes_since(0) == 392 and rec.bytes_since(1) == 0


def test_unknown_phase_is_refused():
    with pytest.raises(ValueError, match="phase"):
        TraceRecorder(run_id="r", algorithm="fedavg").record(round=0, phase="training", entity="x",
                                                             start_s=0, duration_s=0)


def test_wrong_schema_version_is_a_one_line_error(tmp_path):
    write_run(tmp_path, RunRecord(run_id="r1", algorithm="astraea", trace=_recorder().to_frame()))
    meta = json.loads((tmp_path / "run.json").read_text())
    meta["schema_version"] = 99
    (tmp_path / "run.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match=r"'schema_version' .* must be 1 \(got 99\)"):
        read_run(tmp_path)


def test_failed_write_leaves_no_file_behind(tmp_path):
    frame = _recorder().to_frame()
    frame.loc[0, "phase"] = "nonsense"
    with pytest.raises(InputError):
        write_run(tmp_path, RunRecord(run_id="r1", algorithm="astraea", trace=frame))
    assert list(tmp_path.iterdir()) == []


def test_a_run_folder_without_its_trace_is_a_one_line_error(tmp_path):
    write_run(tmp_path, RunRecord(run_id="r1", algorithm="astraea", trace=_recorder().to_frame()))
    (tmp_path / "trace.csv").unlink()
    with pytest.raises(InputError, match=r"must contain trace.csv next to run.json"):
        read_run(tmp_path)
    (tmp_path / "trace.csv").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InputError, match=r"must be a CSV trace"):
        read_run(tmp_path)


def test_written_files_are_readable_by_others(tmp_path):
    write_run(tmp_path, RunRecord(run_id="r1", algorithm="astraea", trace=_recorder().to_frame()))
    assert (tmp_path / "run.json").stat().st_mode & 0o044 == 0o044  # not mkstemp's private 0600
