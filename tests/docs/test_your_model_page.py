"""docs/your-model.md's tables of architecture inputs are what describe-model counts now (typed figures would
drift when a count changes)."""

from __future__ import annotations

import re
from pathlib import Path

from reference_impl.models import build_model, model_features

PAGE = Path(__file__).resolve().parents[2] / "docs" / "your-model.md"
_SYMBOLS = {"P": "params", "F": "train_flops_per_sample", "V_c": "conv_input_values", "V_e": "elementwise_values",
            "N": "autograd_nodes", "C_k": "conv_calls", "F_pad": "conv_padding_flops"}


def _number(cell: str) -> float:
    return float(cell.strip().replace(",", ""))


def _counted(name: str) -> dict[str, float]:
    model = build_model(name, sample_shape=(3, 32, 32), num_classes=10)
    return model_features(model, (3, 32, 32), 10).model_inputs()


def test_the_families_table_is_what_describe_model_counts():
    text = PAGE.read_text(encoding="utf-8")
    header = re.search(r"^\| model \| (.+) \|$", text, flags=re.M)
    symbols = [cell.strip() for cell in header.group(1).split("|")]
    assert symbols == list(_SYMBOLS), "every input the statement reads has its column"
    table = text[header.start():].split("\n\n", 1)[0]
    rows = re.findall(r"^\| `(mlp|scaled|resnet|mobilenet|vit)` \| (.+) \|$", table, flags=re.M)
    assert [name for name, _ in rows] == ["mlp", "scaled", "resnet", "mobilenet", "vit"]
    for name, cells in rows:
        counted = _counted(name)
        assert [_number(c) for c in cells.split("|")] == [counted[_SYMBOLS[s]] for s in symbols], name


def test_the_resnet_example_is_what_describe_model_counts():
    text = PAGE.read_text(encoding="utf-8")
    counted = _counted("resnet")
    shown = dict(re.findall(r"^\| `(\w+)` \| \S+ \| ([\d,]+) \|", text, flags=re.M))
    assert set(_SYMBOLS.values()) <= set(shown), "every input the statement reads is in the example"
    assert {name: _number(shown[name]) for name in _SYMBOLS.values()} == {name: counted[name]
                                                                        for name in _SYMBOLS.values()}
