"""``openweight-sim meta SCENARIO --posterior DIR``: Meta's value of openness over a posterior.

Draws ``--draws`` parameter sets from a posterior sample (``openweight-sim posterior``) and
runs, for each, the scenario and its Meta-internal twin under the same ``--replications``
seeds (:func:`openweight_sim.meta.predictive.meta_value_posterior`). Prints the value of
openness with its 95% predictive interval and the share of its variance that comes from the
parameters, then one line per channel, and writes a ``meta`` results directory atomically:
``predictive.csv`` (the variance split per quantity), ``draws.csv``, ``values.csv`` (per
run), ``meta_value.csv`` (per run and quarter), ``summary.txt``,
``plots/value_posterior.png`` and ``metadata.json``.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd

from openweight_sim.cli.common import metadata, overrides_from, run_options
from openweight_sim.cli.predictive import _check


def _share(x: float) -> str:
    return "–" if not np.isfinite(x) else f"{x:.0%}"


def _bn(x: float) -> str:
    return f"{x / 1e9:.3f}"


def posterior_text(table: pd.DataFrame, name: str, draws: int, reps: int, seed: int) -> str:
    """The printed report: headline, per-channel lines, and the value from the first review.

    Args:
        table: :meth:`~openweight_sim.meta.predictive.MetaValuePosterior.decomposition`.
        name: the scenario's name.
        draws: parameter draws.
        reps: paired runs per draw.
        seed: the root seed.
    """
    t = table.set_index("channel")
    tot = t.loc["openness"]
    share = tot["share_parameters"]
    noise = "–" if not np.isfinite(share) else f"{1 - share:.0%}"
    floored = (  # the between-draw variance was floored at 0 (decompose)
        f" (the draw means vary no more than the runs' draw-specific noise explains over "
        f"{reps} runs)"
        if share == 0
        else ""
    )
    lines = [
        f"What openness pays Meta in {name}: {name} minus {name} with Meta's releases "
        f"internal, over {draws} posterior draws × {reps} paired runs (common random "
        f"numbers, root seed {seed})",
        "cumulative over the run, discounted, USD bn",
        "",
        f"Value of openness: {_bn(tot['mean'])} bn USD (95% predictive interval "
        f"{_bn(tot['lo'])} to {_bn(tot['hi'])} over parameter draws and runs; draw means "
        f"{_bn(tot['param_lo'])} to {_bn(tot['param_hi'])}); {_share(share)} of the variance "
        f"from the parameters, {noise} from run-to-run noise{floored}",
        "",
        f"{'channel':<12}{'mean':>10}{'lo':>10}{'hi':>10}{'draws lo':>10}{'draws hi':>10}"
        f"{'params':>8}",
    ]
    for ch, r in t.drop(index="forward").iterrows():
        lines.append(
            f"{ch:<12}{_bn(r['mean']):>10}{_bn(r['lo']):>10}{_bn(r['hi']):>10}"
            f"{_bn(r['param_lo']):>10}{_bn(r['param_hi']):>10}"
            f"{_share(r['share_parameters']):>8}"
        )
    lines.append(
        "(lo/hi: 95% predictive interval; draws lo/hi: 95% interval of the draw means; params: "
        "share of the variance from the parameters; channels add up to openness)"
    )
    f = t.loc["forward"]
    if not np.isfinite(f["mean"]):
        lines.append(f"\nno review within the run (Meta's first review: {f['from']})")
    else:
        lines.append(
            f"\nfrom Meta's first review ({f['from']}) on: {_bn(f['mean'])} bn (95% predictive "
            f"interval {_bn(f['lo'])} to {_bn(f['hi'])}; {_share(f['share_parameters'])} of "
            "the variance from the parameters)"
        )
    return "\n".join(lines)


def meta_with_posterior(args: argparse.Namespace) -> int:
    """``meta SCENARIO --posterior DIR``: the paired value of openness over posterior draws."""
    from openweight_sim.counterfactual import meta_internal_scenario
    from openweight_sim.io import atomic_dir, write_json, write_table
    from openweight_sim.meta.plots import value_posterior
    from openweight_sim.meta.predictive import meta_value_posterior
    from openweight_sim.outdir import out_dir_for
    from openweight_sim.posterior.predictive import load_posterior, posterior_record
    from openweight_sim.scenario import load_scenario

    _check(args)
    sample = load_posterior(args.posterior)
    sc = load_scenario(args.scenario, overrides_from(args))
    out = out_dir_for(args, f"results/meta-{sc.name}-posterior", "meta")
    started = time.perf_counter()
    result = meta_value_posterior(
        args.scenario, sample, args.draws, args.replications, args.seed,
        overrides_from(args), **run_options(args),
    )  # fmt: skip
    table = result.decomposition()
    text = posterior_text(table, sc.name, args.draws, args.replications, args.seed)
    seeds = {
        "root": args.seed,
        "replications": args.replications,
        "draws": args.draws,
        "run_seeds": result.seeds,
        "draw_seed": "draw_parameters(sample, draws, root): SeedSequence(root, spawn_key=(2,))",
        "pairing": "replication r of every draw, in the scenario and in its Meta-internal "
        "twin, uses run_seeds[r]",
    }
    with atomic_dir(out, "meta") as tmp:
        write_table(table, tmp, "predictive")
        write_table(result.draws_frame(), tmp, "draws")
        write_table(result.values(), tmp, "values")
        write_table(result.value(), tmp, "meta_value")
        (tmp / "summary.txt").write_text(text + "\n")
        (tmp / "plots").mkdir()
        fig = value_posterior(
            table, f"What openness pays Meta, {sc.name}: value by channel over the posterior"
        )
        fig.savefig(tmp / "plots" / "value_posterior.png", dpi=110)
        meta = metadata(sc, seeds, " ".join(sys.argv))
        meta |= {"internal": meta_internal_scenario(sc).model_dump(mode="json")}
        meta |= {**posterior_record(args.posterior), "draws": result.draws}
        write_json(tmp / "metadata.json", meta)
    print(text)
    n = 2 * args.draws * args.replications
    print(
        f"\n{n} runs in {time.perf_counter() - started:.1f} s; results: {out}/ (predictive.csv, "
        "draws.csv, values.csv, meta_value.csv, summary.txt, plots/value_posterior.png)"
    )
    return 0
