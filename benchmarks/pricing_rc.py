"""Time the Bertrand-Nash solver on random-coefficient markets of the new demand side's size.

Why: with workloads and discrete taste types (issue 12), every pricing problem has one group
per (segment, workload, type) cell, up to ~3,000 groups, and ~200 options owned by a few dozen
firms; this measures :func:`openweight_sim.market.solve_equilibrium` at that size, so that a
pathologically slow solve shows up before it is wired into the model. No test asserts on
these timings (they depend on the machine and its load).

The market (one draw, fixed seed): releases of ~30 labs and hosts. Closed releases are sold
by their lab only; the closed frontier APIs of different labs share one nest (the
pricing-discipline structure), every other release is its own nest, in which the hosts that
serve an open release compete with each other. Each open release also has a self-hosting
option priced at cost (``fixed``). Types differ in price sensitivity (log price, alpha from
1.3 to 4.5, a factor above 3), in their tastes for general and coding quality, and in what
they can buy (about 10% of type-option pairs unavailable, e.g. data residency). Price cap 200.
With ``--conduct`` > 0 the closed labs weigh each other's closed APIs (the scenario's
``closed_conduct``), which takes the solver's dense ownership-matrix path.

Usage::

    python benchmarks/pricing_rc.py                      # sizes (300, 50) ... (3000, 200)
    python benchmarks/pricing_rc.py --repeat 7 --sizes 3000x200
    python benchmarks/pricing_rc.py --profile            # pyinstrument, largest size
    python benchmarks/pricing_rc.py --conduct 0 0.2      # also closed labs' partial collusion

Prints one line per size: groups, options, firms, nests, evaluations of the zeta map, the
median wall time of ``--repeat`` solves (and min, max), the median CPU time of the process
(steadier than wall time on a shared machine), and the wall time per evaluation.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass

import numpy as np

from openweight_sim.market import Equilibrium, solve_equilibrium, warm_up

SIGMA = 0.6
PRICE_CAP = 200.0


@dataclass(frozen=True)
class RCMarket:
    """One pricing problem: per-type utilities and the options' owners, nests and costs."""

    delta: np.ndarray  # (G, J)
    alpha: np.ndarray  # (G,)
    weight: np.ndarray  # (G,)
    cost: np.ndarray  # (J,)
    firm: np.ndarray  # (J,)
    nest: np.ndarray  # (J,)
    available: np.ndarray  # (G, J)
    fixed: np.ndarray  # (J,)
    closed: np.ndarray  # (J,) closed APIs

    def ownership(self, conduct: float) -> np.ndarray | None:
        """The model's ownership matrix: closed labs weigh rivals' closed APIs by ``conduct``."""
        if conduct <= 0:
            return None
        own = (self.firm[:, None] == self.firm[None, :]).astype(float)
        own[self.closed[:, None] & self.closed[None, :] & (own == 0)] = conduct
        return own

    def solve(self, conduct: float = 0.0) -> Equilibrium:
        """Solve the market as the model would (log price, nests, cap, fringe, conduct)."""
        return solve_equilibrium(
            self.delta,
            self.cost,
            self.alpha,
            weight=self.weight,
            firm=self.firm,
            nest=self.nest,
            sigma=SIGMA,
            log_price=True,
            available=self.available,
            fixed=self.fixed,
            price_cap=PRICE_CAP,
            ownership=self.ownership(conduct),
        )


def build_market(n_groups: int, n_options: int, n_firms: int = 30, seed: int = 0) -> RCMarket:
    """A random-coefficient market with ``n_groups`` types and ``n_options`` options."""
    rng = np.random.default_rng(seed)
    n_labs = max(n_firms // 3, 2)
    firm, nest, fixed, frontier, closed = [], [], [], [], []
    release = 0
    while len(firm) < n_options:
        lab = int(rng.integers(0, n_labs))
        if rng.random() < 0.4:  # a closed release, sold by its lab only
            is_frontier = rng.random() < 0.3
            firm.append(lab)
            nest.append(-1 if is_frontier else release)
            fixed.append(False)
            frontier.append(is_frontier)
            closed.append(True)
        else:  # an open release: hosts (and maybe its lab) serve it, plus self-hosting
            n_hosts = int(rng.integers(2, 7))
            hosts = rng.choice(np.arange(n_labs, n_firms), n_hosts, replace=False)
            firm += [int(h) for h in hosts] + [n_firms + release]
            nest += [release] * (n_hosts + 1)
            fixed += [False] * n_hosts + [True]
            frontier += [False] * (n_hosts + 1)
            closed += [False] * (n_hosts + 1)
        release += 1
    firm_a, nest_a = np.array(firm[:n_options]), np.array(nest[:n_options])
    fixed_a, frontier_a = np.array(fixed[:n_options]), np.array(frontier[:n_options])
    quality = rng.normal(0.0, 1.0, (n_options, 2)) + np.where(frontier_a, 1.5, 0.0)[:, None]
    release_cost = np.exp(rng.normal(0.0, 1.0, release))  # USD per M tokens
    cost = release_cost[np.where(nest_a < 0, 0, nest_a)] * rng.uniform(0.9, 1.3, n_options)
    cost = np.where(frontier_a, 5.0 * cost, cost)
    taste = rng.gamma(2.0, 0.6, (n_groups, 2))  # general and coding quality coefficients
    xi = rng.normal(0.0, 0.5, n_options)
    return RCMarket(
        delta=xi[None, :] + taste @ quality.T,
        alpha=1.3 + 3.2 * rng.beta(2.0, 2.0, n_groups),
        weight=rng.lognormal(0.0, 1.0, n_groups),
        cost=cost,
        firm=firm_a,
        nest=nest_a,
        available=rng.random((n_groups, n_options)) > 0.1,
        fixed=fixed_a,
        closed=np.array(closed[:n_options]),
    )


def measure(n_groups: int, n_options: int, repeat: int, conduct: float = 0.0) -> str:
    """Solve one market ``repeat`` times and describe the timings in one line."""
    mk = build_market(n_groups, n_options)
    seconds, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        eq = mk.solve(conduct)
        seconds.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    median = statistics.median(seconds)
    status = "converged" if eq.converged else "NOT converged"
    flags = "no_equilibrium" if eq.no_equilibrium else "equilibrium"
    return (
        f"conduct={conduct:.1f} G={n_groups:5d} J={n_options:4d} "
        f"firms={np.unique(mk.firm[~mk.fixed]).size:3d} "
        f"nests={np.unique(mk.nest).size:4d} evaluations={eq.iterations:4d} "
        f"median={median * 1e3:9.2f} ms (min {min(seconds) * 1e3:.2f}, "
        f"max {max(seconds) * 1e3:.2f}; {repeat} runs) cpu={statistics.median(cpu) * 1e3:8.2f} ms "
        f"per evaluation={median / eq.iterations * 1e3:7.3f} ms  {status}, {flags}"
    )


def _sizes(text: str) -> tuple[int, int]:
    """Parse ``GxJ``."""
    g, j = text.lower().split("x")
    return int(g), int(j)


def main() -> None:
    """Run the benchmark from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        nargs="+",
        type=_sizes,
        default=[(300, 50), (1000, 100), (3000, 100), (3000, 200)],
        help="market sizes as GROUPSxOPTIONS",
    )
    parser.add_argument("--repeat", type=int, default=5, help="solves per size (median)")
    parser.add_argument(
        "--conduct",
        type=float,
        nargs="+",
        default=[0.0],
        help="closed_conduct values (> 0: the dense ownership matrix path)",
    )
    parser.add_argument("--profile", action="store_true", help="pyinstrument, largest size")
    args = parser.parse_args()
    warm_up()  # load the compiled kernels outside the timings
    for conduct in args.conduct:
        for n_groups, n_options in args.sizes:
            print(measure(n_groups, n_options, args.repeat, conduct), flush=True)
    if args.profile:
        from pyinstrument import Profiler

        mk = build_market(*max(args.sizes, key=lambda s: s[0] * s[1]))
        profiler = Profiler(interval=0.0005)
        with profiler:
            for _ in range(args.repeat):
                mk.solve(max(args.conduct))
        print(profiler.output_text(unicode=False, color=False, show_all=False))


if __name__ == "__main__":
    main()
