"""Your own model in the calibration: its short sweep (``profile --model``), its held-out runs
(``validate --model``), and the check that it loads and runs before any folder exists.

A model of one's own (``PATH.py:FUNCTION`` or ``package.module:FUNCTION``, :mod:`reference_impl.models.loading`)
or any built-in one joins the calibration through runs of its own, on one dataset whose shape it
takes (``--model-dataset``, default emnist-shape: 1x28x28, 47 classes):

* :func:`model_sweep`: Astraea and FedAvg at batch sizes 10 and 50 and 50 and 200 samples per client
  (20 clients, 8 per round, mediators of 4, three rounds, no evaluation, one torch thread): 8 runs that
  move the per-sample and the per-step terms of its local training apart, as the main sweep does for
  its own families; ``profile --model`` runs them beside the main sweep, so the fit sees the model.
* :func:`model_heldout`: Astraea and FedAvg at batch size 16, 100 samples per client, another seed, two
  rounds, three repetitions each (for noise): 6 runs outside the sweep's batch sizes and sample counts.
"""

from __future__ import annotations

from dataclasses import replace

from calibration.sweep import SweepDesign
from costmodel.errors import InputError, relabel
from reference_impl.config import RunConfig
from reference_impl.data.datasets import dataset_spec
from reference_impl.models import check_model

__all__ = ["DEFAULT_MODEL_DATASET", "check_user_model", "joined", "model_heldout", "model_sweep"]

#: The dataset a model's own runs use unless told otherwise.
DEFAULT_MODEL_DATASET = "emnist-shape"


def _base(model: str, dataset: str, width: float) -> RunConfig:
    return RunConfig(algorithm="astraea", dataset=dataset, samples=20 * 50, model=model, model_width=width,
                     clients=20, clients_per_round=8, gamma=4, local_epochs=1, mediator_epochs=1, batch_size=10,
                     rounds=3, global_imbalance="long-tail", imbalance_ratio=0.1, classes_per_client=2, seed=0,
                     threads=1, evaluate=False)


def check_user_model(model: str, *, dataset: str = DEFAULT_MODEL_DATASET, width: float = 1.0) -> RunConfig:
    """The base configuration of ``model``'s runs, after building the model on ``dataset``'s shape and
    running it once (:func:`reference_impl.models.check_model`).

    Raises
    ------
    InputError
        One line naming ``model`` (or ``model-width``): a bad spec, a file that does not import, a
        model that does not map the dataset's samples to its classes, ...
    """
    try:
        base = _base(model, dataset, width)
        spec = dataset_spec(dataset)
        check_model(model, sample_shape=spec.sample_shape, num_classes=spec.num_classes, width=width)
    except InputError as error:
        raise relabel(error, model_width="model-width", width="model-width", dataset="model-dataset") from None
    return base


def _both(configs: list[RunConfig]) -> list[RunConfig]:
    return [replace(c, algorithm=a) for c in configs for a in ("astraea", "fedavg")]


def model_sweep(model: str, *, dataset: str = DEFAULT_MODEL_DATASET, width: float = 1.0) -> SweepDesign:
    """The short sweep of ``model`` (module docstring): 8 runs, each once."""
    base = check_user_model(model, dataset=dataset, width=width)
    configs = [replace(base, batch_size=b, samples=20 * n) for n in (50, 200) for b in (10, 50)]
    return SweepDesign.from_configs(_both(configs), name=f"model {model}")


def model_heldout(model: str, *, dataset: str = DEFAULT_MODEL_DATASET, width: float = 1.0) -> SweepDesign:
    """Held-out runs of ``model`` (module docstring): 2 configurations, three times each."""
    base = check_user_model(model, dataset=dataset, width=width)
    configs = _both([replace(base, batch_size=16, samples=20 * 100, rounds=2, seed=7)])
    return SweepDesign(configs=tuple(configs), repetitions=(3,) * len(configs), name=f"held-out {model}")


def joined(first: SweepDesign, second: SweepDesign) -> SweepDesign:
    """One design running ``first``'s runs and then ``second``'s, under ``first``'s name."""
    return SweepDesign(configs=first.configs + second.configs, repetitions=first.repetitions + second.repetitions,
                       name=first.name)
