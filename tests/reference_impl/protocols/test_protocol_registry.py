"""The protocol registry: one protocol per algorithm the cost model prices, and a loud failure otherwise."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from costmodel.errors import InputError
from costmodel.model.protocols import ALGORITHMS
from reference_impl.protocols import PROTOCOLS, astraea, fedavg, fedprox, protocol_of
from reference_impl.protocols.protocol import Protocol, check_registry

REPO = Path(__file__).resolve().parents[3]


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_every_priced_algorithm_has_exactly_its_protocol_in_the_cost_model_s_order():
    assert list(PROTOCOLS) == list(ALGORITHMS) == ["astraea", "fedavg", "fedprox"]
    assert [protocol.name for protocol in PROTOCOLS.values()] == list(ALGORITHMS)
    assert PROTOCOLS["astraea"] is astraea.PROTOCOL and PROTOCOLS["fedavg"] is fedavg.PROTOCOL
    assert PROTOCOLS["fedprox"] is fedprox.PROTOCOL
    assert all(protocol_of(name) is PROTOCOLS[name] for name in ALGORITHMS)
    with pytest.raises(TypeError):
        PROTOCOLS["scaffold"] = fedavg.PROTOCOL  # type: ignore[index]  # the table is read-only


def test_an_unknown_algorithm_is_refused_never_run_as_another():
    for name in ("scaffold", "", None):
        with pytest.raises(InputError, match=rf"^'algorithm' must be one of astraea, fedavg, fedprox \(got {name!r}\)\.$"):
            protocol_of(name)  # type: ignore[arg-type]


def test_a_protocol_without_a_cost_counterpart_fails_registration_naming_it():
    scaffold = dataclasses.replace(fedavg.PROTOCOL, name="scaffold", title="SCAFFOLD")
    with pytest.raises(InputError, match=r"^'protocol' must name an algorithm the cost model prices "
                                         r"\(costmodel\.model\.protocols\.ALGORITHMS: astraea, fedavg, fedprox\) "
                                         r"\(got 'scaffold', which has no cost counterpart\)\.$"):
        check_registry((astraea.PROTOCOL, fedavg.PROTOCOL, fedprox.PROTOCOL, scaffold), ALGORITHMS)


def test_a_priced_algorithm_without_a_protocol_fails_registration_naming_it():
    with pytest.raises(InputError, match=r"^'algorithm' must have a protocol registered in reference_impl\.protocols "
                                         r"\(registered: astraea\) \(got 'fedavg' from costmodel\.model\.protocols\.ALGORITHMS, "
                                         r"which has none\)\.$"):
        check_registry((astraea.PROTOCOL,), ALGORITHMS)


def test_a_priced_algorithm_without_a_protocol_stops_the_import():
    # The cost model's table gains an algorithm nobody wrote a protocol for: importing the registry fails.
    done = _python("import costmodel.model.protocols as costs\n"
                   "costs.ALGORITHMS = (*costs.ALGORITHMS, 'scaffold')\n"
                   "import reference_impl.protocols\n")
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1] == (
        "costmodel.errors.InputError: 'algorithm' must have a protocol registered in reference_impl.protocols "
        "(registered: astraea, fedavg, fedprox) (got 'scaffold' from costmodel.model.protocols.ALGORITHMS, which has none).")


def test_a_protocol_registered_twice_or_half_made_is_refused():
    with pytest.raises(InputError, match=r"^'protocol' must be registered once \(got 'fedavg' twice\)\.$"):
        check_registry((astraea.PROTOCOL, fedavg.PROTOCOL, fedavg.PROTOCOL), ALGORITHMS)
    with pytest.raises(InputError, match=r"^'protocol' must be a reference_impl\.protocols\.protocol\.Protocol "):
        check_registry((astraea.PROTOCOL, fedavg), ALGORITHMS)
    with pytest.raises(InputError, match=r"^'plan_groups' must be a function of protocol 'scaffold' \(got None\)\.$"):
        dataclasses.replace(fedavg.PROTOCOL, name="scaffold", plan_groups=None)
    assert isinstance(fedavg.PROTOCOL, Protocol)


def test_the_registry_and_the_run_command_s_registration_load_without_torch():
    done = _python("import sys\n"
                   "from costmodel.cli.dispatch import build_parser\n"
                   "parser = build_parser()\n"
                   "import reference_impl.protocols\n"
                   "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('torch'))\n"
                   "print(parser.parse_args(['run', '--algorithm', 'fedavg', '--out', 'x']).algorithm)\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "fedavg"
