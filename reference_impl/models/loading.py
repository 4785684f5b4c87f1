"""Models by name: the built-in ones, and any PyTorch model of one's own, loaded and checked.

``build_model(name, sample_shape=..., num_classes=..., width=...)`` accepts

* a built-in name (:data:`MODELS`): ``tpds``, ``keras-cifar`` (fixed models), and the width families
  ``scaled`` (the TPDS layout), ``mlp``, ``resnet``, ``mobilenet``, ``vit``
  (:mod:`reference_impl.models.families`);
* ``PATH.py:FUNCTION``: the Python file at PATH is imported as a module of its own (once per process;
  nothing is added to ``sys.path``) and FUNCTION taken from it;
* ``package.module:FUNCTION``: an importable module (``importlib.import_module``) and FUNCTION in it.

FUNCTION may be a dotted name inside the module (``Net.build``) and is any callable that returns an
``nn.Module``: a function or a class. It is called with keyword arguments only, those it names among

``input_shape``
    one sample's shape ``(C, H, W)`` as a tuple of ints (``(1, 28, 28)`` for emnist-shape and digits,
    ``(3, 32, 32)`` for cinic-shape);
``num_classes``
    K, the width of the logits it must return (also passed when it takes ``**kwargs`` without naming
    it, the torchvision convention).

The model must map a float batch ``(B, C, H, W)`` to logits ``(B, K)`` (the loss applies the softmax),
in train and eval mode. Its weights come from the global torch RNG, which the engine seeds before the
build, so a callable that initialises through torch gives the same weights for the same seed.

:func:`check_model` builds a model and runs it once (an eval forward and a training forward, loss and
backward on a batch of two zero samples, on a copy, with a forked RNG), so a bad model is one line
naming ``model``, the rule and the value before any work starts::

    'model' must name an existing Python file (got 'nets/missing.py:build').
    'model' must import without error (ModuleNotFoundError: No module named 'timm') (got 'my_net.py:build').
    'model' must name a callable in its module (AttributeError: ... has no attribute 'bild') (got 'my_net.py:bild').
    'model' must return a torch.nn.Module (got 'my_net.py:build', which returned dict).
    'model' must return logits of shape (2, 47) for a batch of shape (2, 1, 28, 28) (got 'my_net.py:build', whose output has shape (2, 10)).
    'model' must run a forward and backward pass on a batch of shape (2, 1, 28, 28) (RuntimeError: mat1 and mat2 shapes cannot be multiplied (2x784 and 100x10)) (got 'my_net.py:build').
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

import torch
import torch.nn.functional as F
from torch import nn

from costmodel.errors import InputError, check_int, check_number, must
from reference_impl.config import MODEL_NAMES, MODEL_SPEC_FORMS, WIDTH_MODELS, is_model_spec
from reference_impl.models.families import mlp, mobilenet, resnet, vit
from reference_impl.models.builtin import check_shape, keras_cifar10_cnn, scaled_cnn, tpds_emnist_cnn

__all__ = ["CHECK_BATCH", "MODELS", "build_model", "check_model", "load_callable"]

#: The batch size :func:`check_model` runs the model at.
CHECK_BATCH = 2


def _build_tpds(sample_shape: tuple[int, int, int], num_classes: int, width: float) -> nn.Module:
    return tpds_emnist_cnn(num_classes, sample_shape[0], image_size=sample_shape[1:])


def _build_keras(sample_shape: tuple[int, int, int], num_classes: int, width: float) -> nn.Module:
    return keras_cifar10_cnn(num_classes, sample_shape=sample_shape)


def _family(builder: Callable[[float, Sequence[int], int], nn.Module]
            ) -> Callable[[tuple[int, int, int], int, float], nn.Module]:
    def build(sample_shape: tuple[int, int, int], num_classes: int, width: float) -> nn.Module:
        return builder(width, sample_shape, num_classes)
    build.__doc__ = builder.__doc__
    return build


#: Built-in model builders by name: ``(sample_shape, num_classes, width) -> nn.Module``.
MODELS: dict[str, Callable[[tuple[int, int, int], int, float], nn.Module]] = {
    "keras-cifar": _build_keras,
    "mlp": _family(mlp),
    "mobilenet": _family(mobilenet),
    "resnet": _family(resnet),
    "scaled": _family(scaled_cnn),
    "tpds": _build_tpds,
    "vit": _family(vit),
}
if set(MODELS) != set(MODEL_NAMES):  # pragma: no cover - a guard: the torch-free list must match
    raise RuntimeError("reference_impl.config.MODEL_NAMES and reference_impl.models.MODELS disagree")


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or "no message"
    return f"{type(error).__name__}: {text[:300]}"


def _file_module(path_text: str, spec: str) -> ModuleType:
    path = Path(path_text).expanduser().resolve()
    if not path.is_file():
        raise must("model", "name an existing Python file", spec)
    name = "astraea_cost_user_model_" + hashlib.sha256(str(path).encode("utf-8")).hexdigest()[:16]
    if name in sys.modules:
        return sys.modules[name]
    loader_spec = importlib.util.spec_from_file_location(name, path)
    if loader_spec is None or loader_spec.loader is None:  # pragma: no cover - a .py file always has a loader
        raise must("model", "name a Python file", spec)
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[name] = module           # classes defined there can be copied and pickled by name
    try:
        loader_spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[name]
        raise InputError(f"'model' must import without error ({_one_line(error)}) (got {spec!r}).") from None
    return module


def load_callable(spec: str) -> Callable[..., object]:
    """The callable a ``PATH.py:FUNCTION`` or ``package.module:FUNCTION`` spec names (module docstring).

    Raises
    ------
    InputError
        ``'model' must ...``: a spec of another form, a missing file, an import that fails, a missing
        name or one that is not callable.
    """
    if not is_model_spec(spec):
        raise must("model", f"be {MODEL_SPEC_FORMS}", spec)
    target, _, function = spec.rpartition(":")
    if target.endswith(".py"):
        module = _file_module(target, spec)
    else:
        try:
            module = importlib.import_module(target)
        except Exception as error:
            raise InputError(f"'model' must import without error ({_one_line(error)}) (got {spec!r}).") from None
    found: object = module
    try:
        for part in function.split("."):
            found = getattr(found, part)
    except AttributeError as error:
        raise InputError(f"'model' must name a callable in its module ({_one_line(error)}) (got {spec!r}).") from None
    if not callable(found):
        raise InputError(f"'model' must name a callable in its module (got {spec!r}, a {type(found).__name__}).")
    return found


def _keywords(factory: Callable[..., object], sample_shape: tuple[int, int, int], num_classes: int) -> dict[str, object]:
    """The keyword arguments ``factory`` is called with: those it names among input_shape and num_classes
    (and num_classes when it takes ``**kwargs``)."""
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):       # some builtins have no signature: call them without arguments
        return {}
    named = {name for name, p in parameters.items()
             if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)}
    keywords: dict[str, object] = {}
    if "input_shape" in named:
        keywords["input_shape"] = sample_shape
    if "num_classes" in named or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        keywords["num_classes"] = num_classes
    return keywords


def _user_model(spec: str, sample_shape: tuple[int, int, int], num_classes: int) -> nn.Module:
    factory = load_callable(spec)
    try:
        model = factory(**_keywords(factory, sample_shape, num_classes))
    except Exception as error:
        raise InputError(f"'model' must build a model when called with input_shape and num_classes "
                         f"({_one_line(error)}) (got {spec!r}).") from None
    if not isinstance(model, nn.Module):
        raise InputError(f"'model' must return a torch.nn.Module (got {spec!r}, which returned "
                         f"{type(model).__name__}).")
    return model


def build_model(name: str, *, sample_shape: Sequence[int], num_classes: int, width: float = 1.0) -> nn.Module:
    """Build a model: a built-in name (:data:`MODELS`; ``width`` scales the width families only) or a
    ``PATH.py:FUNCTION`` / ``package.module:FUNCTION`` spec (module docstring; ``width`` must be 1)."""
    if not isinstance(name, str) or not (name in MODELS or is_model_spec(name)):
        listed = ", ".join(repr(n) for n in sorted(MODELS))
        raise InputError(f"'model' must be one of {listed}, or {MODEL_SPEC_FORMS} (got {name!r}).")
    shape = check_shape(sample_shape)
    num_classes = check_int("num_classes", num_classes, minimum=1)
    width = check_number("width", width, exclusive_minimum=0.0)
    if name not in WIDTH_MODELS and width != 1.0:
        raise must("width", f"be 1.0 for the fixed model {name!r} (the width families are {', '.join(WIDTH_MODELS)})",
                   width)
    if name in MODELS:
        return MODELS[name](shape, num_classes, width)
    return _user_model(name, shape, num_classes)


def _logits_problem(scores: object, expected: tuple[int, int]) -> str | None:
    """What is wrong with a model's output (None: float logits of the expected shape)."""
    if not isinstance(scores, torch.Tensor):
        return f"whose output is a {type(scores).__name__}"
    if tuple(scores.shape) != expected:
        return f"whose output has shape {tuple(scores.shape)}"
    if not scores.is_floating_point():
        return f"whose output has dtype {scores.dtype}"
    return None


def _run_once(model: nn.Module, shape: tuple[int, int, int], num_classes: int, spec: str) -> None:
    """An eval forward, then a training forward + loss + backward, at :data:`CHECK_BATCH` on a copy."""
    batch = (CHECK_BATCH, *shape)
    expected = (CHECK_BATCH, num_classes)
    try:
        clone = copy.deepcopy(model)
        with torch.random.fork_rng(devices=[]):
            clone.eval()
            with torch.no_grad():
                problem = _logits_problem(clone(torch.zeros(batch)), expected)
            if problem is None:
                clone.train()
                scores = clone(torch.zeros(batch))
                problem = _logits_problem(scores, expected)
                if problem is None:
                    F.cross_entropy(scores, torch.arange(CHECK_BATCH) % num_classes).backward()
    except Exception as error:
        raise InputError(f"'model' must run a forward and backward pass on a batch of shape {batch} "
                         f"({_one_line(error)}) (got {spec!r}).") from None
    if problem is not None:
        raise InputError(f"'model' must return logits of shape {expected} for a batch of shape {batch} "
                         f"(got {spec!r}, {problem}).")


def check_model(name: str, *, sample_shape: Sequence[int], num_classes: int, width: float = 1.0) -> nn.Module:
    """Build ``name`` (:func:`build_model`) and check that it trains on this shape: it has trainable
    parameters, maps ``(2, C, H, W)`` to float logits ``(2, num_classes)`` in eval and train mode, and
    its loss backpropagates. Returns the model as built (the checks ran on a copy).

    Raises
    ------
    InputError
        One line naming ``model`` (module docstring), or ``width``, ``sample_shape``, ``num_classes``.
    """
    shape = check_shape(sample_shape)
    num_classes = check_int("num_classes", num_classes, minimum=1)
    model = build_model(name, sample_shape=shape, num_classes=num_classes, width=width)
    if not any(p.requires_grad for p in model.parameters()):
        raise InputError(f"'model' must have trainable parameters (got {name!r}, which has none).")
    _run_once(model, shape, num_classes, name)
    return model
