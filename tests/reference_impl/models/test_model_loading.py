"""Models of one's own: PATH.py:FUNCTION and package.module:FUNCTION, how the callable is called, and every
bad model as one line naming 'model', the rule and the value."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch

from costmodel.errors import InputError
from reference_impl.config import RunConfig, is_model_spec
from reference_impl.models import build_model, check_model, count_parameters

EMNIST = dict(sample_shape=(1, 28, 28), num_classes=47)


def _write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


GOOD = """
    from torch import nn

    def build(input_shape, num_classes):
        c, h, w = input_shape
        return nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, 32), nn.ReLU(), nn.Linear(32, num_classes))

    def only_classes(num_classes):
        return nn.Sequential(nn.Flatten(), nn.Linear(784, num_classes))

    def anything(**kwargs):
        return nn.Sequential(nn.Flatten(), nn.Linear(784, kwargs.get("num_classes", 1000)))

    class Net(nn.Module):
        def __init__(self, input_shape=(1, 28, 28), num_classes=10):
            super().__init__()
            self.fc = nn.Linear(input_shape[0] * input_shape[1] * input_shape[2], num_classes)

        def forward(self, x):
            return self.fc(x.flatten(1))

        @classmethod
        def small(cls, num_classes):
            return cls(num_classes=num_classes)

    CONSTANT = 3
"""


def test_a_function_in_a_file_gets_the_shape_and_classes(tmp_path) -> None:
    path = _write(tmp_path, "net.py", GOOD)
    model = build_model(f"{path}:build", **EMNIST)
    assert count_parameters(model) == 784 * 32 + 32 + 32 * 47 + 47
    model = build_model(f"{path}:build", sample_shape=(3, 32, 32), num_classes=10)
    assert count_parameters(model) == 3072 * 32 + 32 + 32 * 10 + 10


@pytest.mark.parametrize("function,params", [
    ("only_classes", 784 * 47 + 47),        # names num_classes only
    ("anything", 784 * 47 + 47),            # **kwargs: num_classes only (the torchvision convention)
    ("Net", 784 * 47 + 47),                 # a class: its __init__ names both
    ("Net.small", 784 * 47 + 47),           # a dotted name inside the module
])
def test_the_callable_gets_the_keywords_it_names(tmp_path, function, params) -> None:
    path = _write(tmp_path, "net.py", GOOD)
    assert count_parameters(check_model(f"{path}:{function}", **EMNIST)) == params


def test_a_module_on_the_path(tmp_path, monkeypatch) -> None:
    package = tmp_path / "mynets"
    package.mkdir()
    (package / "__init__.py").write_text("")
    _write(package, "dense.py", GOOD)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert count_parameters(check_model("mynets.dense:build", **EMNIST)) == 784 * 32 + 32 + 32 * 47 + 47


def test_same_seed_same_weights(tmp_path) -> None:
    path = _write(tmp_path, "net.py", GOOD)

    def weights(seed: int) -> list[torch.Tensor]:
        torch.manual_seed(seed)
        return list(build_model(f"{path}:build", **EMNIST).state_dict().values())

    assert all(torch.equal(a, b) for a, b in zip(weights(1), weights(1)))
    assert not all(torch.equal(a, b) for a, b in zip(weights(1), weights(2)))


def test_check_model_draws_only_what_the_build_draws_and_returns_it_untrained(tmp_path) -> None:
    path = _write(tmp_path, "net.py", GOOD)
    torch.manual_seed(0)
    built = build_model(f"{path}:build", **EMNIST)
    after_build = torch.get_rng_state()
    torch.manual_seed(0)
    checked = check_model(f"{path}:build", **EMNIST)
    assert torch.equal(after_build, torch.get_rng_state())      # the check's runs used a forked RNG
    assert all(torch.equal(a, b) for a, b in zip(built.state_dict().values(), checked.state_dict().values()))
    assert all(p.grad is None for p in checked.parameters())


BAD = {
    "imports.py": "import a_module_that_does_not_exist\n",
    "raises.py": "from torch import nn\ndef build(input_shape, num_classes):\n    raise ValueError('no such size')\n",
    "returns.py": "def build(num_classes):\n    return {'not': 'a module'}\n",
    "shape.py": ("from torch import nn\ndef build(num_classes):\n"
                 "    return nn.Sequential(nn.Flatten(), nn.Linear(784, 10))\n"),
    "forward.py": ("from torch import nn\ndef build(num_classes):\n"
                   "    return nn.Sequential(nn.Flatten(), nn.Linear(100, num_classes))\n"),
    "frozen.py": ("from torch import nn\ndef build(num_classes):\n"
                  "    return nn.Sequential(nn.Flatten())\n"),
    "tuple.py": ("import torch\nfrom torch import nn\nclass Two(nn.Module):\n"
                 "    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(784, 47)\n"
                 "    def forward(self, x):\n        y = self.fc(x.flatten(1))\n        return y, y\n"
                 "def build():\n    return Two()\n"),
}


@pytest.mark.parametrize("file,function,message", [
    ("missing.py", "build", "'model' must name an existing Python file (got '{path}:build')."),
    ("imports.py", "build", "'model' must import without error (ModuleNotFoundError: No module named "
                            "'a_module_that_does_not_exist') (got '{path}:build')."),
    ("returns.py", "bild", "'model' must name a callable in its module (AttributeError: module "
                           "'astraea_cost_user_model_{digest}' has no attribute 'bild') (got '{path}:bild')."),
    ("raises.py", "build", "'model' must build a model when called with input_shape and num_classes "
                           "(ValueError: no such size) (got '{path}:build')."),
    ("returns.py", "build", "'model' must return a torch.nn.Module (got '{path}:build', which returned dict)."),
    ("shape.py", "build", "'model' must return logits of shape (2, 47) for a batch of shape (2, 1, 28, 28) "
                          "(got '{path}:build', whose output has shape (2, 10))."),
    ("tuple.py", "build", "'model' must return logits of shape (2, 47) for a batch of shape (2, 1, 28, 28) "
                          "(got '{path}:build', whose output is a tuple)."),
    ("forward.py", "build", "'model' must run a forward and backward pass on a batch of shape (2, 1, 28, 28) "
                            "(RuntimeError: mat1 and mat2 shapes cannot be multiplied (2x784 and 100x47)) "
                            "(got '{path}:build')."),
    ("frozen.py", "build", "'model' must have trainable parameters (got '{path}:build', which has none)."),
])
def test_bad_models_are_one_line(tmp_path, file, function, message) -> None:
    import hashlib

    if file in BAD:
        _write(tmp_path, file, BAD[file])
    path = tmp_path / file
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    with pytest.raises(InputError) as info:
        check_model(f"{path}:{function}", **EMNIST)
    assert str(info.value) == message.format(path=path, digest=digest)
    assert "\n" not in str(info.value)


def test_a_name_in_the_module_that_is_not_callable(tmp_path) -> None:
    path = _write(tmp_path, "net.py", GOOD)
    with pytest.raises(InputError, match=r"^'model' must name a callable in its module \(got '.*net\.py:CONSTANT', "
                                         r"a int\)\.$"):
        check_model(f"{path}:CONSTANT", **EMNIST)


def test_a_module_that_does_not_import() -> None:
    with pytest.raises(InputError, match=r"^'model' must import without error \(ModuleNotFoundError: No module named "
                                         r"'no_such_package'\) \(got 'no_such_package\.nets:build'\)\.$"):
        check_model("no_such_package.nets:build", **EMNIST)


@pytest.mark.parametrize("name,spec", [
    ("tpds", False), ("nets/my_net.py:build", True), ("my_net.py:Net.small", True), ("pkg.mod:build", True),
    ("torchvision.models:resnet18", True), ("my_net.py", False), ("my_net.py:", False), (".py:build", False),
    ("pkg mod:build", False), ("pkg.mod:2build", False), ("resnet50", False), (3, False),
])
def test_the_form_of_a_spec(name, spec) -> None:
    assert is_model_spec(name) is spec


def test_run_config_checks_the_form_torch_free_and_the_width() -> None:
    assert RunConfig(model="nets/my_net.py:build").model == "nets/my_net.py:build"
    with pytest.raises(InputError) as info:
        RunConfig(model="resnet50")
    assert str(info.value) == ("'model' must be one of tpds, keras-cifar, scaled, mlp, resnet, mobilenet, vit, or "
                               "PATH.py:FUNCTION or package.module:FUNCTION (got 'resnet50').")
    with pytest.raises(InputError, match=r"^'model_width' must be 1\.0 for the fixed model 'my\.py:build' "):
        RunConfig(model="my.py:build", model_width=2)
    assert RunConfig(model="vit", model_width=0.5).model_width == 0.5
