"""Local training and evaluation: the plain PyTorch loops every client and the server run.

Clients train with Adam (learning rate 1e-3 in both papers) and cross-entropy for ``E`` local epochs
of mini-batch SGD over their own (possibly augmented) data, reshuffled every epoch. With a proximal
coefficient ``mu > 0`` (FedProx, Li et al., MLSys 2020) the loss of every step gains
``mu/2*||w - w_0||^2``, ``w_0`` the weights the visit started from: its gradient ``mu*(w - w_0)`` is
added to every parameter's gradient before the step, one pass over the parameters per step. A fresh Adam state
is made for every visit: the papers do not say that optimizer state travels with the model, and in
Astraea's sequential SGD it could not, since only the weights are passed from client to client.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["evaluate_accuracy", "steps_per_visit", "train_local"]


def steps_per_visit(samples: int, *, batch_size: int, epochs: int) -> int:
    """Optimizer steps of one visit: ``epochs * ceil(samples / batch_size)``."""
    return epochs * math.ceil(samples / batch_size)


def train_local(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *, epochs: int, batch_size: int,
                learning_rate: float, generator: torch.Generator, proximal_mu: float = 0.0) -> int:
    """Train ``model`` in place on ``(x, y)``; return the number of optimizer steps taken.

    ``proximal_mu > 0`` adds FedProx's proximal term around the starting weights (module docstring).
    """
    model.train()
    batch_norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(parameters, lr=learning_rate)
    anchor = [p.detach().clone() for p in parameters] if proximal_mu > 0 else []
    n = x.shape[0]
    steps = 0
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, batch_size):
            batch = order[start:start + batch_size]
            frozen = batch_norms if batch.numel() == 1 else []   # one sample: running statistics (docstring)
            for norm in frozen:
                norm.eval()
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x[batch]), y[batch])
            for norm in frozen:
                norm.train()
            loss.backward()
            for parameter, start_value in zip(parameters, anchor):   # d/dw of mu/2*||w - w_0||^2
                parameter.grad.add_(parameter.detach() - start_value, alpha=proximal_mu)
            optimizer.step()
            steps += 1
    return steps


@torch.no_grad()
def evaluate_accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 1024) -> float:
    """Top-1 accuracy of ``model`` on ``(x, y)``."""
    model.eval()
    correct = 0
    for start in range(0, x.shape[0], batch_size):
        logits = model(x[start:start + batch_size])
        correct += int((logits.argmax(dim=1) == y[start:start + batch_size]).sum())
    return correct / max(1, x.shape[0])
