"""The dispatcher imports only the chosen command's module: predictions never load the reference side."""

import subprocess
import sys

from costmodel import cli


def test_every_command_is_mapped_to_the_module_that_registers_it():
    for command, module in cli.COMMAND_MODULE_OF.items():
        parser = cli.build_parser(command)
        subparsers = next(a for a in parser._actions if a.dest == "command")
        assert command in subparsers.choices, (command, module)
    full = next(a for a in cli.build_parser()._actions if a.dest == "command")
    assert set(full.choices) == set(cli.COMMAND_MODULE_OF)


def test_predict_loads_neither_torch_nor_the_reference_implementation_nor_calibration():
    code = ("import sys; from costmodel.cli import main; main(['predict']);"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'reference_impl', 'calibration'));"
            "print('LOADED', bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "LOADED []" in out.stdout
