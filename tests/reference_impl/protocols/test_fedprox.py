"""FedProx in the reference implementation: the proximal term is the gradient of mu/2*||w - w_t||^2,
mu is required exactly where the protocol has the term, and a run's wire bytes are FedAvg's."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from costmodel.cli import main
from costmodel.errors import InputError
from reference_impl.config import RunConfig
from reference_impl.engine.drive import run
from reference_impl.engine.in_process import Engine
from reference_impl.engine.training import train_local
from reference_impl.protocols import PROTOCOLS
from reference_impl.studies.compare import configs_of

TINY = RunConfig(algorithm="fedprox", mu=0.5, dataset="digits", clients=6, clients_per_round=4, gamma=2, rounds=1,
                 model="scaled", model_width=0.25, evaluate=False, threads=1, seed=3)


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3))


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return torch.randn(23, 5, generator=generator), torch.randint(0, 3, (23,), generator=generator)


def _autograd_proximal(model: torch.nn.Module, x, y, *, mu: float, epochs: int, batch_size: int, seed: int):
    """The same loop with the proximal term written as a loss, differentiated by autograd."""
    parameters = list(model.parameters())
    anchor = [p.detach().clone() for p in parameters]
    optimizer = torch.optim.Adam(parameters, lr=1e-2)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(x.shape[0], generator=generator)
        for start in range(0, x.shape[0], batch_size):
            batch = order[start:start + batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
            loss = loss + mu / 2 * sum(((p - a) ** 2).sum() for p, a in zip(parameters, anchor))
            loss.backward()
            optimizer.step()


def _vector(model: torch.nn.Module) -> torch.Tensor:
    return torch.nn.utils.parameters_to_vector(model.parameters()).detach()


def test_the_proximal_gradient_is_that_of_mu_half_squared_distance_to_the_starting_weights():
    x, y = _data()
    ours, theirs = _model(), _model()
    steps = train_local(ours, x, y, epochs=3, batch_size=5, learning_rate=1e-2,
                        generator=torch.Generator().manual_seed(4), proximal_mu=0.7)
    _autograd_proximal(theirs, x, y, mu=0.7, epochs=3, batch_size=5, seed=4)
    assert steps == 3 * 5
    torch.testing.assert_close(_vector(ours), _vector(theirs), rtol=1e-5, atol=1e-6)
    plain = _model()
    train_local(plain, x, y, epochs=3, batch_size=5, learning_rate=1e-2, generator=torch.Generator().manual_seed(4))
    # the term pulls towards the start: the proximal run ends nearer to it than the plain one
    start = _vector(_model())
    assert (_vector(ours) - start).norm() < 0.9 * (_vector(plain) - start).norm()


def test_mu_is_required_by_fedprox_and_refused_by_the_others():
    assert PROTOCOLS["fedprox"].proximal and not PROTOCOLS["fedavg"].proximal and not PROTOCOLS["astraea"].proximal
    with pytest.raises(InputError, match=r"^'mu' must be > 0 for fedprox, whose local steps carry a proximal term "
                                         r"mu/2\*\|\|w - w_t\|\|\^2 \(got 0\.0\)\.$"):
        Engine(dataclasses.replace(TINY, mu=0.0))
    with pytest.raises(InputError, match=r"^'mu' must be 0 for fedavg, which has no proximal term \(got 0\.5\)\.$"):
        PROTOCOLS["fedavg"].check(dataclasses.replace(TINY, algorithm="fedavg"))
    with pytest.raises(InputError, match=r"^'mu' must be >= 0 \(got -1\)\.$"):
        RunConfig(mu=-1)
    assert [c.mu for c in configs_of(TINY, ("astraea", "fedavg", "fedprox"))] == [0.0, 0.0, 0.5]


def test_a_fedprox_run_moves_fedavg_s_bytes_and_takes_its_steps():
    prox = run(TINY, progress=False).trace
    plain = run(dataclasses.replace(TINY, algorithm="fedavg", mu=0.0), progress=False).trace
    for column in ("round", "phase", "entity", "bytes", "flops", "samples", "steps"):
        assert prox[column].tolist() == plain[column].tolist(), column
    assert prox["bytes"].sum() > 0 and prox["steps"].sum() > 0


@pytest.mark.parametrize("argv,message", [
    (["--algorithm", "fedprox"], "'mu' must be > 0 for fedprox"),
    (["--algorithm", "fedavg", "--mu", "0.1"], "'mu' must be 0 for fedavg, which has no proximal term (got 0.1)."),
    (["--mu", "-0.5"], "'mu' must be >= 0 (got -0.5)."),
])
def test_the_run_command_refuses_a_wrong_mu_in_one_line(argv, message, tmp_path, capsys):
    assert main(["run", "--out", str(tmp_path / "o"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert list(tmp_path.iterdir()) == []


def test_compare_runs_the_chosen_algorithms_with_mu_only_where_it_belongs(tmp_path, capsys):
    out = tmp_path / "cmp"
    status = main(["compare", "--algorithms", "fedavg,fedprox", "--mu", "0.2", "--seeds", "0", "--clients", "6",
                   "--clients-per-round", "4", "--gamma", "2", "--rounds", "1", "--model", "scaled",
                   "--model-width", "0.25", "--dataset", "digits", "--quiet", "--out", str(out)])
    assert status == 0, capsys.readouterr().err
    capsys.readouterr()
    summary = (out / "summary.csv").read_text()
    assert "fedprox" in summary and "fedavg" in summary and "astraea" not in summary
    for bad, message in ((["--algorithms", "fedavg,fedavg"], "'algorithms' must name each algorithm once"),
                         (["--algorithms", "fedprox"], "'mu' must be > 0 for fedprox"),
                         (["--algorithms", "scaffold"], "'algorithm' must be one of astraea, fedavg, fedprox")):
        assert main(["compare", "--out", str(tmp_path / "bad"), *bad]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "bad").exists()
