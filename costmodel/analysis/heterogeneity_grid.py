"""The closed form of the heterogeneous round against its Monte Carlo over a grid of spreads.

``python -m costmodel.analysis.heterogeneity_grid [--draws-per-client N] [--out FILE.csv]`` prices
FedAvg (McMahan et al., AISTATS 2017) and Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021)
rounds of the EMNIST and CINIC-10 presets with the embedded calibration over speed sigma
{0, 0.25, 0.5, 0.75, 1}, link sigma {0, 0.5, 1, 1.5}, three device-class mixes (with each link
sigma), and
``(c, gamma)`` in {(10, 5), (50, 10), (200, 10), (1000, 20)}, each by the closed form
(:mod:`costmodel.model.heterogeneity`) and by Monte Carlo (:mod:`costmodel.analysis.montecarlo`,
seed 1, ``max(4000, N/c)`` rounds), and prints the largest relative difference in round time, in
its heterogeneous excess (the round minus the homogeneous round) and in the round's 95% quantile
(closed form, :mod:`costmodel.analysis.round_quantile`, against the Monte Carlo's), by algorithm and
spread. Torch-free; a few minutes on one core.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import pandas as pd

from costmodel.analysis.heterogeneous import predict_heterogeneous
from costmodel.contracts.calibration_file import load_calibration
from costmodel.model.federation import Federation
from costmodel.model.scenario import Scenario

__all__ = ["CLASS_MIXES", "SHAPES", "grid_frame", "main"]

#: Device-class mixes of the grid: (factor, share) per class.
CLASS_MIXES: dict[str, tuple[tuple[float, float], ...]] = {
    "1/0.3/0.1 at 50/30/20%": ((1.0, 0.5), (0.3, 0.3), (0.1, 0.2)),
    "1/0.1 at 90/10%": ((1.0, 0.9), (0.1, 0.1)),
    "1/0.2 at 20/80%": ((1.0, 0.2), (0.2, 0.8)),
}
#: (clients per round, gamma) of the grid.
SHAPES: tuple[tuple[int, int], ...] = ((10, 5), (50, 10), (200, 10), (1000, 20))


def _federations() -> list[tuple[str, Federation]]:
    cases = [(f"speed {s:g}, link {b:g}", Federation(speed_sigma=s, link_sigma=b))
             for s in (0.0, 0.25, 0.5, 0.75, 1.0) for b in (0.0, 0.5, 1.0, 1.5) if s or b]
    cases += [(f"classes {name}, link {b:g}", Federation(speed_classes=mix, link_sigma=b))
              for name, mix in CLASS_MIXES.items() for b in (0.0, 0.5, 1.0, 1.5)]
    return cases


def grid_frame(draws_per_client: int = 2_000_000) -> pd.DataFrame:
    """One row per preset, federation, shape and algorithm: closed form, Monte Carlo, and their errors."""
    coefficients = load_calibration(None).coefficients
    rows = []
    for preset in (Scenario.emnist, Scenario.cinic10):
        for label, federation in _federations():
            for c, gamma in SHAPES:
                scenario = preset(clients_per_round=c, mediator_size=gamma, clients_total=max(1000, c))
                table = predict_heterogeneous(scenario, coefficients, federation,
                                              monte_carlo=max(4000, draws_per_client // c), seed=1)
                for record in table.to_dict(orient="records"):
                    mc, closed = record["monte_carlo_round_seconds"], record["round_seconds"]
                    excess = mc - record["homogeneous_round_seconds"]
                    rows.append(dict(preset=preset.__name__, federation=label, classes=bool(federation.speed_classes),
                                     speed_sigma=federation.speed_sigma, link_sigma=federation.link_sigma,
                                     clients_per_round=c, gamma=gamma, **record,
                                     relative_error=closed / mc - 1.0,
                                     q95_relative_error=(record["closed_form_q95_seconds"]
                                                         / record["monte_carlo_q95_seconds"] - 1.0),
                                     excess_relative_error=(closed - mc) / excess if excess > 0 else float("nan"),
                                     stderr_relative=record["monte_carlo_stderr_seconds"] / mc))
    return pd.DataFrame(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m costmodel.analysis.heterogeneity_grid")
    parser.add_argument("--draws-per-client", type=int, default=2_000_000)
    parser.add_argument("--out", default=None, help="also write the grid as CSV")
    args = parser.parse_args(argv)
    frame = grid_frame(args.draws_per_client)
    frame["kind"] = frame["classes"].map({True: "classes", False: "log-normal"})
    frame["links"] = frame["link_sigma"].map(lambda b: "link sigma <= 1" if b <= 1 else "link sigma 1.5")
    summary = (frame.assign(abs_round=frame["relative_error"].abs(), abs_excess=frame["excess_relative_error"].abs(),
                            abs_q95=frame["q95_relative_error"].abs())
               .groupby(["algorithm", "kind", "links"])
               .agg(cells=("abs_round", "size"), max_round_error=("abs_round", "max"),
                    mean_round_error=("abs_round", "mean"), max_excess_error=("abs_excess", "max"),
                    max_q95_error=("abs_q95", "max"), mean_q95_error=("abs_q95", "mean"),
                    max_stderr=("stderr_relative", "max")))
    print(summary.to_string(float_format=lambda v: f"{100 * v:.1f}%" if v < 10 else f"{v:g}"))
    if args.out:
        frame.to_csv(args.out, index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
