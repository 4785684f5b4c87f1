"""The user docs: the generated model page matches the code, the walkthrough runs, links and commands exist."""

from __future__ import annotations

import argparse
import doctest
import re
from pathlib import Path

import pytest

from costmodel.report import model_page as docs_gen

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = sorted(DOCS.glob("*.md"))


def test_every_promised_page_exists() -> None:
    assert {p.name for p in PAGES} >= {"index.md", "model.md", "calibrate.md", "report.md", "limits.md",
                                       "walkthrough.md"}


def test_model_page_is_what_the_generator_produces_now() -> None:
    assert (DOCS / "model.md").read_text(encoding="utf-8") == docs_gen.generate(), \
        "docs/model.md is stale: run `python -m costmodel.report.model_page`"


def test_model_page_holds_every_phase_category_and_symbol() -> None:
    from costmodel import model as ex
    from costmodel.contracts.vocabulary import CATEGORIES
    from costmodel.model.quantities import QUANTITIES

    text = docs_gen.generate()
    for phase in ex.MODEL_PHASES:
        assert f"#### `{phase}`" in text
    for name in QUANTITIES:
        assert f"| `{name}` |" in text
    for title in ("Training compute", "Data augmentation", "Communication", "Coordination and synchronization"):
        assert title in text
    assert len(CATEGORIES) == 4
    assert r"\text{round seconds}" in text and r"\text{Astraea bytes per round (papers)}" in text


def test_docs_gen_check_and_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "model.md"
    assert docs_gen.main(["--out", str(target), "--check"]) == 1  # missing
    assert docs_gen.main(["--out", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == docs_gen.generate()
    assert docs_gen.main(["--out", str(target), "--check"]) == 0
    target.write_text(target.read_text(encoding="utf-8") + "edited by hand\n", encoding="utf-8")
    assert docs_gen.main(["--out", str(target), "--check"]) == 1
    assert "out of date" in capsys.readouterr().err


def test_walkthrough_runs_as_a_doctest() -> None:
    result = doctest.testfile(str(DOCS / "walkthrough.md"), module_relative=False,
                              optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0
    assert result.attempted >= 30


def test_name_clash_paragraph() -> None:
    text = (DOCS / "index.md").read_text(encoding="utf-8")
    paragraph = text.split("## Which Astraea?")[1]
    for phrase in ("EuroSys 2024", "congestion control", "RL training", "federated-learning Astraea"):
        assert phrase in paragraph


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_relative_links_resolve(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
        assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


def _parsers() -> dict[str, argparse.ArgumentParser]:
    from costmodel.cli.dispatch import build_parser

    subparsers = next(a for a in build_parser()._actions if a.dest == "command")
    return dict(subparsers.choices)


def _command_lines() -> list[tuple[str, str]]:
    """(page, 'astraea-cost ...' text) from code blocks (continuation lines joined) and code spans."""
    found = []
    for page in PAGES:
        if page.name == "model.md":
            continue
        text = page.read_text(encoding="utf-8")
        for block in re.findall(r"```[^\n]*\n(.*?)```", text, flags=re.S):
            joined = re.sub(r"\\\n\s*", " ", block)
            found += [(page.name, line.strip()) for line in joined.splitlines()
                      if line.strip().startswith("astraea-cost ")]
        for span in re.findall(r"`(astraea-cost [^`]+)`", re.sub(r"```.*?```", "", text, flags=re.S)):
            found.append((page.name, span))
    return found


def test_documented_commands_and_options_exist() -> None:
    parsers = _parsers()
    lines = _command_lines()
    assert len(lines) >= 10
    checked = set()
    for page, line in lines:
        command = line.split()[1]
        assert command in parsers, f"{page}: unknown command in {line!r}"
        options = set(parsers[command]._option_string_actions)
        for option in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", line.split("#")[0]):
            assert option in options, f"{page}: {line!r} uses {option}, which 'astraea-cost {command}' lacks"
        checked.add(command)
    assert {"report", "predict", "solve"} <= checked


def test_the_calibration_page_counts_the_coefficients_there_are() -> None:
    from costmodel.contracts.coefficients import COEFFICIENT_TABLE

    text = (DOCS / "calibrate.md").read_text(encoding="utf-8")
    assert f"**platform coefficients** ({len(COEFFICIENT_TABLE)} of them)" in text
