"""Command line of the value of openness to Meta: ``openweight-sim meta SCENARIO``.

Runs the scenario and its Meta-internal twin with common random numbers
(:func:`openweight_sim.meta.value.meta_value`), prints the cumulative value by channel with
95% intervals and writes a ``meta`` results directory atomically: ``meta_value.csv`` (per
replication and quarter), ``by_quarter.csv``, ``summary.csv``, ``forward.csv`` (the value
from Meta's first review on), ``decisions.csv``, the two worlds' quarter tables,
``summary.txt``, ``plots/`` and ``metadata.json``. With ``--posterior DIR`` the same value
is computed over parameter sets drawn from a posterior
(:mod:`~openweight_sim.cli.meta_posterior`).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Any

import pandas as pd

from openweight_sim.cli.common import add_executor_arguments, metadata, overrides_from, run_options
from openweight_sim.cli.predictive import add_posterior_arguments
from openweight_sim.outdir import add_force_flag, out_dir_for


def summary_text(summary: pd.DataFrame, forward: pd.DataFrame, name: str, n: int, seed: int) -> str:
    """The printed table: cumulative discounted value by channel, USD bn, with intervals."""
    lines = [
        f"What openness pays Meta in {name}: {name} minus {name} with Meta's releases internal",
        f"cumulative over the run, discounted, USD bn; mean of {n} paired runs (root seed "
        f"{seed}) with 95% interval; channels add up to the total",
        "",
        f"{'channel':<12}{'mean':>10}{'lo':>10}{'hi':>10}",
    ]
    for row in summary.itertuples():
        lines.append(
            f"{row.channel:<12}{row.mean / 1e9:>10.3f}{row.lo / 1e9:>10.3f}{row.hi / 1e9:>10.3f}"
        )
    f = forward.iloc[0]
    if math.isnan(f["mean"]):  # the run ends before Meta's first review
        lines.append(f"\nno review within the run (Meta's first review: {f['from']})")
        return "\n".join(lines)
    verdict = "consolidating does not pay" if f["lo"] > 0 else "consolidating pays"
    if f["lo"] <= 0 <= f["hi"]:
        verdict = "the interval includes zero: not settled at this size"
    lines.append(
        f"\nfrom Meta's first review ({f['from']}) on: {f['mean'] / 1e9:.3f} bn "
        f"(95% interval {f['lo'] / 1e9:.3f} to {f['hi'] / 1e9:.3f}); {verdict}"
    )
    return "\n".join(lines)


def cmd_meta(args: argparse.Namespace) -> int:
    """Paired value of openness to Meta; prints the channel table, writes results."""
    if args.posterior or args.draws is not None:
        from openweight_sim.cli.meta_posterior import meta_with_posterior

        return meta_with_posterior(args)
    from openweight_sim.counterfactual import meta_internal_scenario
    from openweight_sim.io import atomic_dir, write_json, write_table
    from openweight_sim.meta.plots import save_figures
    from openweight_sim.meta.value import meta_value
    from openweight_sim.scenario import load_scenario
    from openweight_sim.seeds import spawn_seeds

    sc = load_scenario(args.scenario, overrides_from(args))
    twin = meta_internal_scenario(sc)
    out = out_dir_for(args, f"results/meta-{sc.name}", "meta")
    started = time.perf_counter()
    result = meta_value(sc, args.replications, args.seed, **run_options(args))
    summary, forward = result.summary(), result.forward()
    text = summary_text(summary, forward, sc.name, args.replications, args.seed)
    seeds = {
        "root": args.seed,
        "replications": args.replications,
        "run_seeds": spawn_seeds(args.seed, args.replications),
        "pairing": "replication r of the scenario and of its Meta-internal twin use run_seeds[r]",
    }
    with atomic_dir(out, "meta") as tmp:
        write_table(result.value, tmp, "meta_value")
        write_table(result.by_quarter(), tmp, "by_quarter")
        write_table(summary, tmp, "summary")
        write_table(forward, tmp, "forward")
        write_table(result.decisions(), tmp, "decisions")
        write_table(result.open_quarters, tmp, "quarters_open")
        write_table(result.internal_quarters, tmp, "quarters_internal")
        (tmp / "summary.txt").write_text(text + "\n")
        save_figures(result, tmp / "plots")
        meta = metadata(sc, seeds, " ".join(sys.argv))
        write_json(tmp / "metadata.json", meta | {"internal": twin.model_dump(mode="json")})
    print(text)
    elapsed = time.perf_counter() - started
    print(
        f"\n{2 * args.replications} runs in {elapsed:.1f} s; results: {out}/ (meta_value.csv, "
        "summary.csv, forward.csv, by_quarter.csv, decisions.csv, summary.txt, plots/)"
    )
    return 0


def register(sub: Any) -> None:
    """Add ``meta`` to the ``openweight-sim`` parser."""
    p = sub.add_parser(
        "meta",
        help="what openness pays Meta: the scenario minus Meta-internal, by channel",
        description="Run a scenario and the same scenario with Meta's releases kept internal "
        "with common random numbers, and report the value of openness to Meta (the paired "
        "difference of its payoff) by channel, cumulative and discounted, with 95% "
        "intervals. With --posterior DIR, over parameter sets drawn from a posterior, with "
        "the share of the variance from the parameters. Example: openweight-sim meta "
        "baseline --replications 10",
    )
    p.add_argument("scenario", help="scenario (bundled name or YAML path)")
    p.add_argument("--replications", type=int, default=10, help="paired runs (default 10)")
    p.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    p.add_argument(
        "--set", action="append", metavar="PATH=VALUE", help="override a parameter (both worlds)"
    )
    add_executor_arguments(p)
    add_posterior_arguments(p)
    p.add_argument(
        "--out",
        help="results directory (default results/meta-SCENARIO; with --posterior, "
        "results/meta-SCENARIO-posterior)",
    )
    add_force_flag(p)
    p.set_defaults(func=cmd_meta)
