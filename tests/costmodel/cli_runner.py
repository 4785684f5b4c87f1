"""Run the ``astraea-cost`` command line in-process for tests: exit status, stdout, stderr."""

from __future__ import annotations

import pytest

from costmodel import cli


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``cli.main(argv)``; argparse's own errors (SystemExit) give their status too."""
    try:
        status = cli.main(argv)
    except SystemExit as exit_:
        status = int(exit_.code or 0)
    captured = capsys.readouterr()
    return status, captured.out, captured.err
