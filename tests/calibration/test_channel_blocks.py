"""The channel-block probe: its FLOP count, its rule ranking, and its errors."""

import itertools

import pandas as pd
import pytest

from calibration import channel_blocks
from costmodel.errors import InputError
from reference_impl.models.counting import OperatorTally


def _synthetic(rule) -> pd.DataFrame:
    """Timings of a machine on which a convolution costs exactly 5 ps per FLOP of ``rule``'s channel pair."""
    rows = []
    for c_in, c_out in itertools.product(channel_blocks.CHANNELS, repeat=2):
        flops = 3 * 2 * 16 * 14 * 14 * 9 * c_in * c_out
        rows.append(dict(c_in=c_in, c_out=c_out, flops=flops,
                         seconds=5e-12 * flops * rule(c_in, c_out) / (c_in * c_out)))
    return pd.DataFrame(rows)


@pytest.mark.parametrize("name", ["both to 16", "no rounding", "input to 8, output to 16"])
def test_the_rule_a_machine_follows_comes_first_and_flat(name):
    table = channel_blocks.rule_table(_synthetic(channel_blocks.RULES[name]))
    assert table["rule"].iloc[0] == name
    assert table["cv"].iloc[0] == pytest.approx(0.0, abs=1e-12)
    assert table["ps_per_counted_flop"].iloc[0] == pytest.approx(5.0)
    assert (table["cv"].iloc[1:] > 0.01).all()
    # pairs with a count below 8 are left out: 12 of the 13 counts remain
    assert set(table["pairs"]) == {12 * 12}


def test_the_timed_flops_are_the_counting_module_s_for_the_same_convolution():
    timings = channel_blocks.time_convolutions((3, 18), repeats=1)
    assert list(zip(timings["c_in"], timings["c_out"])) == [(3, 3), (3, 18), (18, 3), (18, 18)]
    assert (timings["seconds"] > 0).all()
    # the counting module's tally of the same passes: forward, input and weight gradients
    torch = pytest.importorskip("torch")
    for c_in, c_out, flops in zip(timings["c_in"], timings["c_out"], timings["flops"]):
        conv = torch.nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        x = torch.randn(16, c_in, 14, 14, requires_grad=True)
        with OperatorTally() as tally:
            conv(x).sum().backward()
        assert tally.flops["conv"] == flops


def test_bad_input_is_one_line():
    with pytest.raises(InputError, match=r"^'repeats' must be"):
        channel_blocks.time_convolutions((8,), repeats=0)
    with pytest.raises(InputError, match=r"'timings' must hold a pair with both channel counts >= 8 \(got 1 pairs\)"):
        channel_blocks.rule_table(pd.DataFrame([dict(c_in=4, c_out=4, flops=1.0, seconds=1.0)]))
    assert channel_blocks.main(["--repeats", "0"]) == 2
