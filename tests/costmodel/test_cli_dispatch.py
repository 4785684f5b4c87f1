"""The dispatcher: commands declared by each package through entry points; predictions never load torch."""

import subprocess
import sys

from costmodel.cli import dispatch as dispatcher
from costmodel.cli.registry import Command


def test_every_package_declares_its_commands_and_names_are_unique():
    commands = dispatcher.commands()
    names = [command.name for command in commands]
    assert names == ["run", "compare", "describe-model", "predict", "solve", "plot", "formula", "report", "profile",
                     "calibrate", "validate", "link-sweep", "validate-network", "flower-profile"]
    assert all(isinstance(command, Command) and ":" in command.handler for command in commands)
    parser = dispatcher.build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    assert list(subparsers.choices) == names


def test_each_handler_is_a_function_of_its_own_package():
    import importlib

    for command in dispatcher.commands():
        module, _, function = command.handler.partition(":")
        assert callable(getattr(importlib.import_module(module), function)), command.handler


def test_predict_loads_neither_torch_nor_more_than_the_declarations_of_the_other_packages():
    code = ("import sys; from costmodel.cli import main; main(['predict']);"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'reference_impl', 'calibration')"
            " and m not in ('reference_impl', 'reference_impl.commands', 'reference_impl.config', "
            "'reference_impl.distributed', 'reference_impl.distributed.options', 'reference_impl.network', "
            "'reference_impl.network.namespaces', 'reference_impl.network.links', 'reference_impl.flower', "
            "'reference_impl.flower.options', "
            "'calibration', 'calibration.commands'));"
            "print('LOADED', bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "LOADED []" in out.stdout


def test_an_option_is_never_taken_for_a_longer_one_it_begins():
    """argparse would read 'describe-model --model mlp' as '--model-width mlp'; every command refuses it instead,
    in one line with status 2."""
    out = subprocess.run([sys.executable, "-m", "costmodel.cli", "describe-model", "--model", "mlp",
                          "--input-shape", "1x28x28"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1].endswith("unrecognized arguments: --model")
    assert all(not sub.allow_abbrev for sub in next(a for a in dispatcher.build_parser()._actions
                                                     if a.dest == "command").choices.values())
