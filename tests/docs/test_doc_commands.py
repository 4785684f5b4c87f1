"""Every ``astraea-cost`` command line shown in README.md and docs/ runs, as written, and succeeds.

A command line is a line of a code block, or an inline code span with arguments, that starts with
``astraea-cost``. A page's command lines run in the order the page gives them, in one scratch folder
(so ``calibrate`` finds the runs ``profile`` wrote). A bare ``astraea-cost NAME`` in prose names a
command and a synopsis with placeholders (``[--out DIR]``, ``PHASE``) shows its shape: both must name
a command that exists. The commands that need network namespaces (``link-sweep``,
``validate-network``, ``run --network emulated``) run as root, as CI does, and skip elsewhere.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest

from costmodel import cli
from costmodel.cli import dispatch

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_NEEDS_ROOT = ("link-sweep", "validate-network", "--network emulated")


def command_lines(page: Path) -> list[str]:
    """The page's ``astraea-cost`` command lines, in order (continuation lines joined, comments cut)."""
    text = page.read_text(encoding="utf-8")
    found: list[tuple[int, str]] = []
    for block in re.finditer(r"```[a-z]*\n(.*?)```", text, re.S):
        lines = block.group(1).split("\n")
        index = 0
        while index < len(lines):
            line = lines[index]
            while line.rstrip().endswith("\\") and index + 1 < len(lines):
                index += 1
                line = line.rstrip()[:-1] + " " + lines[index].strip()
            if line.strip().startswith("astraea-cost "):
                found.append((block.start(), line.split(" #")[0].strip()))
            index += 1
    prose = re.sub(r"```.*?```", lambda m: " " * len(m.group(0)), text, flags=re.S)
    for span in re.finditer(r"`(astraea-cost [^`]*)`", prose):
        found.append((span.start(), " ".join(span.group(1).split())))
    return [line for _, line in sorted(found)]


def _is_reference(line: str) -> bool:
    """A bare command name, or a synopsis with placeholders: not meant to run as written."""
    words = shlex.split(line)[1:]
    return len(words) <= 1 or "[" in line or "..." in line or any(w.isupper() and len(w) > 1 for w in words)


def test_the_pages_show_command_lines_to_run() -> None:
    runnable = [line for page in PAGES for line in command_lines(page) if not _is_reference(line)]
    assert len(runnable) >= 20
    assert any("solve min-bandwidth --max-overhead 200%" in line for line in runnable)


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_command_named_exists(page: Path) -> None:
    commands = {command.name for command in dispatch.commands()}
    for line in command_lines(page):
        name = shlex.split(line)[1]
        assert name in commands, f"{page.name}: {line!r} names no command"


@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p in PAGES if any(not _is_reference(c) for c in command_lines(p))],
                         ids=lambda p: p.name)
def test_every_command_line_of_the_page_runs(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    lines = [line for line in command_lines(page) if not _is_reference(line)]
    if os.geteuid() != 0 and any(marker in line for line in lines for marker in _NEEDS_ROOT):
        pytest.skip(f"{page.name} shows commands that need network namespaces (root): "
                    f"{next(line for line in lines if any(m in line for m in _NEEDS_ROOT))!r}")
    monkeypatch.chdir(tmp_path)
    for line in lines:
        argv = shlex.split(line)[1:]
        try:
            status = cli.main(argv)
        except SystemExit as exit_:       # argparse's own complaints
            status = int(exit_.code or 0)
        captured = capsys.readouterr()
        assert status == 0, f"{page.name}: {line!r} exited {status}: {captured.err.strip()[-500:]}"
        assert "Traceback" not in captured.err, captured.err
