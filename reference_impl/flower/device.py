"""One client device of a Flower run: its own data, its augmentation and its visits, as the in-process engine does them.

Flower starts a fresh ``flwr-clientapp`` process for every message a SuperNode receives, so a
device is rebuilt for every message: it builds the run's federated data from the seed (as every
process of every engine does), keeps only its own client's samples, and builds the model's
architecture (its weights come with the message). What must outlive a message, the client's
augmented samples, travels in Flower's ``Context.state`` (:mod:`reference_impl.flower.client_app`).

The work itself is the in-process engine's, not a copy of it: :class:`ClientDevice` is an
:class:`~reference_impl.engine.in_process.Engine` that holds one client and none of the server's
state, so :meth:`~reference_impl.engine.in_process.Engine.train_visit` and
:meth:`~reference_impl.engine.in_process.Engine.augment_client` run with exactly the seeds, thread
count and allocator settings of an in-process run, which is what makes the final models equal.

A fresh process also runs its first convolution cold (kernel selection, first-touch pages), and
its first optimizer step imports ``torch._dynamo`` (0.8 s of CPU here):
:meth:`ClientDevice.warm_up` takes one training step of a throw-away copy of the model before the
visit, so the visit's measured ``local_training`` is the warm time the calibration prices, and the cold
start is part of Flower's dispatch (the ``client_download`` interval).
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from reference_impl.config import RunConfig
from reference_impl.data.federated import build_federated_data
from reference_impl.engine.allocator import keep_freed_memory
from reference_impl.engine.in_process import CLOCKS, Engine
from reference_impl.engine.training import train_local
from reference_impl.models import build_model, count_parameters

__all__ = ["ClientDevice"]


class ClientDevice(Engine):
    """Client ``client`` of ``config`` alone: its samples (or the augmented ones it kept) and the model.

    Parameters
    ----------
    config : the run's configuration.
    client : the client this device holds (its partition id).
    samples : ``(x, y)`` the device kept from an earlier message (its augmented data), or ``None``
        for the client's original samples.
    """

    def __init__(self, config: RunConfig, client: int, samples: tuple[torch.Tensor, torch.Tensor] | None = None
                 ) -> None:     # noqa: D107 - no Engine.__init__: a device has no server state
        self.config = config
        self.client = int(client)
        torch.set_num_threads(config.threads)
        self.allocator = keep_freed_memory()
        data = build_federated_data(config)
        if not 0 <= self.client < data.num_clients:
            raise ValueError(f"client {client} is not a client of this run (0..{data.num_clients - 1}).")
        self.num_classes = data.num_classes
        self.sample_shape = tuple(data.train.sample_shape)
        x, y = data.client_data(self.client) if samples is None else samples
        # Engine's client operations index these by client id
        self.client_x: dict[int, torch.Tensor] = {self.client: x}
        self.client_y: dict[int, torch.Tensor] = {self.client: y}
        self.model = build_model(config.model, sample_shape=self.sample_shape, num_classes=self.num_classes,
                                 width=config.model_width)
        self.params = count_parameters(self.model)
        self.flops_per_sample = 0.0     # the server counts FLOPs; a device reports samples
        self.clock = CLOCKS[config.timer]

    @property
    def samples(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The client's current ``(x, y)``."""
        return self.client_x[self.client], self.client_y[self.client]

    def histogram(self) -> np.ndarray:
        """The label histogram of the client's current samples (int64, K classes)."""
        return self.histograms([self.client])[0].astype(np.int64)

    def warm_up(self) -> None:
        """One optimizer step of a throw-away copy of the model on one batch, through the visit's own
        training loop (:func:`~reference_impl.engine.training.train_local`; module docstring).

        The step matters as much as the pass: a fresh process's first ``torch.optim`` step imports
        ``torch._dynamo`` (about 800 modules, 0.8 s of CPU here), which a visit must not time as
        training. Touches neither the model's weights nor any random stream a visit draws from (each
        visit seeds its own; the batch order comes from a generator of its own).
        """
        x, y = self.samples
        batch = slice(0, min(self.config.batch_size, int(x.shape[0])))
        train_local(copy.deepcopy(self.model), x[batch], y[batch], epochs=1, batch_size=self.config.batch_size,
                    learning_rate=self.config.learning_rate, generator=torch.Generator().manual_seed(0),
                    proximal_mu=self.config.mu)
