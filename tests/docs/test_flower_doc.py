"""docs/flower.md prints Flower's figures from the embedded profile, not by hand."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from calibration.flower_doc import PAGE, flower_block, main, render_page
from costmodel.contracts.framework_profile import load_framework_profile

ROOT = Path(__file__).resolve().parents[2]


def test_the_page_holds_exactly_what_the_embedded_profile_says():
    text = (ROOT / PAGE).read_text(encoding="utf-8")
    assert "<!-- begin generated: flower -->" in text
    assert render_page(text, load_framework_profile()) == text, "run `python -m calibration.flower_doc`"
    assert main(["--check"]) == 0


def test_the_block_follows_the_profile():
    profile = load_framework_profile()
    changed = replace(profile, coefficients={**profile.coefficients, "dispatch_s": 123.456}, validation=())
    block = flower_block(changed)
    assert "| `dispatch_s` | 123.46 s |" in block
    assert "carries no held-out check" in block and flower_block(profile) != block
