"""``openweight-sim validate`` and ``openweight-sim calibrate``.

``validate [SCENARIO]`` runs replications and scores them against the in-sample facts:
it prints the scorecard, writes ``scorecard.csv``, ``validation.png``, ``quarters.csv`` and
``metadata.json``, and exits 0 whether or not facts are missed (only errors are non-zero).

``calibrate`` fits the free behavioural parameters to the in-sample facts with CMA-ES
(``--budget`` evaluations, each generation one parallel batch on ``--executor``) and writes
``fitted.yaml`` (dotted path → value, with a comment per value), ``report.md``,
``trace.csv``, ``scorecard.csv`` (fitted values, fit seeds), ``scorecard_fresh.csv``
(fitted values, fresh seeds) and ``metadata.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path
from typing import Any

from openweight_sim.calibration.facts import IN_SAMPLE_END, IN_SAMPLE_START, load_facts
from openweight_sim.cli.common import (
    CliError,
    add_executor_arguments,
    metadata,
    overrides_from,
    run_options,
)
from openweight_sim.outdir import add_force_flag, out_dir_for


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``validate`` and ``calibrate`` subcommands to the CLI."""
    p = sub.add_parser(
        "validate", help="score a scenario against the in-sample facts 2023Q1–2024Q4"
    )
    p.add_argument("scenario", nargs="?", default="baseline", help="bundled name or YAML path")
    p.add_argument(
        "--replications",
        type=int,
        default=20,
        help="runs (default 20: enterprise spend shares vary widely between runs)",
    )
    p.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    p.add_argument("--out", help="results directory (default results/validate-<scenario>)")
    add_force_flag(p)
    p.add_argument("--set", action="append", metavar="PATH=VALUE", help="override a parameter")
    add_executor_arguments(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser(
        "calibrate", help="fit the free behavioural parameters to the in-sample facts"
    )
    p.add_argument("--scenario", default="baseline", help="scenario to fit (default baseline)")
    p.add_argument("--out", help="results directory (default results/calibrate)")
    add_force_flag(p)
    p.add_argument("--replications", type=int, default=3, help="runs per evaluation (default 3)")
    p.add_argument("--seed", type=int, default=0, help="root seed of runs and optimiser")
    p.add_argument(
        "--budget",
        type=int,
        default=600,
        help="number of evaluations (default 600; each is --replications runs)",
    )
    p.add_argument(
        "--max-evals", dest="budget", type=int, default=argparse.SUPPRESS, help="= --budget"
    )
    p.add_argument(
        "--fresh-replications",
        type=int,
        help="runs re-scoring the start and the best point on fresh seeds "
        "(default 2 × --replications)",
    )
    p.add_argument(
        "--set",
        action="append",
        metavar="PATH=VALUE",
        help="override applied to every run, e.g. developers.count=3000 (the default)",
    )
    add_executor_arguments(p)
    p.add_argument(
        "--scheduler-file",
        metavar="PATH",
        help="scheduler file of a running Dask cluster, as written by "
        "`dask scheduler --scheduler-file PATH` or dask-jobqueue (implies --executor dask)",
    )
    p.set_defaults(func=cmd_calibrate)


def _metadata(scenario: Any, command: str, extra: dict[str, Any]) -> dict[str, Any]:
    meta = metadata(scenario, extra.pop("seeds", {}), command)
    meta.update(extra)
    return meta


# ----------------------------------------------------------------------------- validate


def validation_header(name: str, replications: int, count: int, seed: int, end: str) -> str:
    """First printed line of ``validate``."""
    return (
        f"{name}: scorecard against {IN_SAMPLE_START}–{IN_SAMPLE_END} facts, "
        f"{replications} replication(s) × {count:,} developers, seed {seed} (runs to {end})"
    )


FOOTNOTES = (
    "by construction: F30–F32 (H100 rental) are the exogenous input technology.gpu_price;\n"
    "quality_gap (F11–F16) follows from the replayed historical release table. They are\n"
    "shown but not counted among the behavioural facts."
)


def cmd_validate(args: argparse.Namespace) -> int:
    """Run replications, print and write the scorecard, draw the overlay plot."""
    from openweight_sim.calibration.plots import plot_validation, validation_title
    from openweight_sim.calibration.scorecard import (
        construction_rate,
        format_scorecard,
        hit_rate,
        scorecard,
    )
    from openweight_sim.io import atomic_dir, write_json
    from openweight_sim.market import impossible_market_warning
    from openweight_sim.runs import run_replications
    from openweight_sim.scenario import load_scenario

    scenario = load_scenario(args.scenario, overrides_from(args))
    facts = load_facts()
    out = out_dir_for(args, f"results/validate-{scenario.name}", "validation")
    started = time.perf_counter()
    (reps,) = run_replications([scenario], args.replications, args.seed, **run_options(args))
    sim = reps.quarters
    card = scorecard(sim, facts)
    with atomic_dir(out, "validation") as tmp:
        card.to_csv(tmp / "scorecard.csv", index=False)
        sim.to_csv(tmp / "quarters.csv", index=False)
        plot_validation(
            sim,
            card,
            tmp / "validation.png",
            validation_title(scenario.name, args.replications),
        )
        n, m = hit_rate(card)
        write_json(
            tmp / "metadata.json",
            _metadata(
                scenario,
                " ".join(["openweight-sim", *sys.argv[1:]]),
                {
                    "seeds": reps.seeds_record(),
                    "within_tolerance": n,
                    "facts": m,
                    "facts_counted": "behavioural facts only",
                    "by_construction_within": construction_rate(card)[0],
                    "by_construction": construction_rate(card)[1],
                    "seconds": round(time.perf_counter() - started, 1),
                },
            ),
        )
    print(
        validation_header(
            scenario.name, args.replications, scenario.developers.count, args.seed, scenario.end
        )
    )
    print(f"written: {out}/ (scorecard.csv, validation.png, quarters.csv, metadata.json)")
    print()
    table = format_scorecard(card).splitlines()
    print("\n".join(table[:-1]))
    print()
    print(FOOTNOTES)
    print(table[-1])
    warning = impossible_market_warning(sim)
    if warning:  # a scorecard of prices set by the cap is no evidence of fit
        print(warning)
    return 0


# ---------------------------------------------------------------------------- calibrate


def fitted_yaml(result: Any, date: str, start_hits: int, fitted_hits: int, total: int) -> str:
    """``fitted.yaml``: one ``dotted.path: value`` line per parameter, each with a comment."""
    from openweight_sim.calibration.fit import FREE_PARAMETERS

    s = result.settings
    bounds = {p.path: p for p in FREE_PARAMETERS}
    lines = [
        f"# openweight-sim calibrate, {date}: scenario {s['scenario']}, seed {s['seed']}, "
        f"{s['replications']} replication(s) x {s['overrides']['developers.count']} developers, "
        f"{IN_SAMPLE_START}-{IN_SAMPLE_END} facts only",
        f"# loss (mean squared standardised miss) {result.start_loss:.3f} -> "
        f"{result.fitted_loss:.3f} (fresh seeds {result.fresh_start_loss:.3f} -> "
        f"{result.fresh_loss:.3f}); behavioural facts within tolerance {start_hits} -> "
        f"{fitted_hits} of {total} ({s['evaluations']} evaluations, CMA-ES)",
        "# Use: openweight-sim validate baseline --set PATH=VALUE ... (or copy into a scenario)",
    ]
    for path, value in result.fitted.items():
        p = bounds.get(path)
        rng = f"bounds [{p.low:g}, {p.high:g}]{' log' if p.log else ''}; " if p else ""
        lines.append(
            f"{path}: {value:g}   # calibrated: openweight-sim calibrate, {date} "
            f"({rng}was {s['scenario_values'][path]:g})"
        )
    for row in result.catch_up.itertuples():
        lines.append(
            f"{row.path}: {row.estimate:g}   # calibrated: openweight-sim calibrate, {date} "
            f"(least squares on the historical release table, {row.generations} generations: "
            f"{row.releases}; was {row.current:g})"
        )
    return "\n".join(lines) + "\n"


def report_md(result: Any, date: str) -> str:
    """``report.md``: settings, the loss, the parameters, catch-up estimates, scorecards."""
    from openweight_sim.calibration.fit import FREE_PARAMETERS, Z_CAP
    from openweight_sim.calibration.scorecard import format_scorecard, summary_line

    s = result.settings
    start_card, fitted_card = result.cards["start"], result.cards["fitted"]
    fresh_start, fresh_fitted = result.cards["fresh_start"], result.cards["fresh_fitted"]
    lines = [
        f"# Calibration report ({date})",
        "",
        f"Scenario `{s['scenario']}`, facts {IN_SAMPLE_START}–{IN_SAMPLE_END} only; runs end "
        f"at {IN_SAMPLE_END}. {s['replications']} replication(s) per evaluation with fixed "
        f"seeds {s['run_seeds']} (root {s['seed']}, common random numbers), "
        f"{s['overrides']['developers.count']:,} developers; {s['evaluations']} of "
        f"{s['max_evals']} evaluations ({s['generations']} generations of {s['population']}) "
        f"in {s['seconds']} s on executor `{s['executor']}`.",
        "",
        "Loss: mean over the behavioural facts (those holding by construction excluded) of "
        "z², z = standardised miss (log scale for prices, linear for shares and Elo; 1 = edge "
        f"of the tolerance band; capped at {Z_CAP:g}; missing = cap). Optimiser: CMA-ES on "
        f"the unit cube of the bounds, sigma0 {s['sigma0']:g}, sampler seed "
        f"{s['sampler_seed']} (spawned from root {s['seed']}), the current values as the "
        "first evaluation and first mean.",
        "",
        f"Loss on the fit's seeds {result.start_loss:.3f} → {result.fitted_loss:.3f}. "
        f"Before: {summary_line(start_card)}. After: {summary_line(fitted_card)}.",
        "",
        f"Re-scored on fresh seeds {s['fresh_seeds']} (never seen by the search): loss "
        f"{result.fresh_start_loss:.3f} → {result.fresh_loss:.3f}. "
        f"Before: {summary_line(fresh_start)}. After: {summary_line(fresh_fitted)}.",
        "",
        "## Behavioural parameters",
        "",
        "| parameter | bounds | scale | start | fitted | identified by |",
        "|---|---|---|---|---|---|",
    ]
    for p in FREE_PARAMETERS:
        if p.path not in result.fitted:
            continue
        lines.append(
            f"| `{p.path}` | [{p.low:g}, {p.high:g}] | {'log' if p.log else 'linear'} | "
            f"{result.start[p.path]:g} | **{result.fitted[p.path]:g}** | {p.targets} |"
        )
    lines += [
        "",
        "## Catch-up rates (historical release table, least squares)",
        "",
        "| parameter | current | estimate | generations | releases |",
        "|---|---|---|---|---|",
    ]
    for r in result.catch_up.itertuples():
        lines.append(
            f"| `{r.path}` | {r.current:g} | **{r.estimate:g}** | {r.generations} | {r.releases} |"
        )
    lines += [
        "",
        "## In-sample scorecard at the fitted values (fresh seeds)",
        "",
        "```",
        format_scorecard(fresh_fitted),
        "```",
        "",
        "## In-sample scorecard at the fitted values (the fit's own runs)",
        "",
        "```",
        format_scorecard(fitted_card),
        "```",
        "",
        "## Before the fit",
        "",
        "```",
        format_scorecard(start_card),
        "```",
        "",
    ]
    return "\n".join(lines)


def _write_calibration(tmp: Path, scenario: Any, args: argparse.Namespace, result: Any) -> None:
    """Write fitted.yaml, report.md, trace.csv, catch_up.csv, the scorecards, metadata.json."""
    from openweight_sim.calibration.scorecard import hit_rate
    from openweight_sim.io import atomic_write_text, write_json

    s = result.settings
    start_card, fitted_card = result.cards["start"], result.cards["fitted"]
    date = dt.date.today().isoformat()
    start_hits, total = hit_rate(start_card)
    fitted_hits, _ = hit_rate(fitted_card)
    atomic_write_text(
        tmp / "fitted.yaml", fitted_yaml(result, date, start_hits, fitted_hits, total)
    )
    atomic_write_text(tmp / "report.md", report_md(result, date))
    result.trace.to_csv(tmp / "trace.csv", index=False)
    result.catch_up.to_csv(tmp / "catch_up.csv", index=False)
    fitted_card.to_csv(tmp / "scorecard.csv", index=False)
    result.cards["fresh_fitted"].to_csv(tmp / "scorecard_fresh.csv", index=False)
    write_json(
        tmp / "metadata.json",
        _metadata(
            scenario,
            " ".join(["openweight-sim", *sys.argv[1:]]),
            {
                "seeds": {
                    "root": args.seed,
                    "run_seeds": s["run_seeds"],
                    "sampler_seed": s["sampler_seed"],
                    "fresh_seeds": s["fresh_seeds"],
                },
                "settings": s,
                "start": result.start,
                "fitted": result.fitted,
                "start_loss": result.start_loss,
                "fitted_loss": result.fitted_loss,
                "fresh_start_loss": result.fresh_start_loss,
                "fresh_loss": result.fresh_loss,
                "catch_up": result.catch_up.to_dict(orient="records"),
            },
        ),
    )


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Fit the free parameters; write fitted.yaml, report.md, trace.csv, metadata.json."""
    from tqdm import tqdm

    from openweight_sim.calibration.fit import fit
    from openweight_sim.calibration.scorecard import summary_line
    from openweight_sim.io import atomic_dir
    from openweight_sim.scenario import load_scenario

    if args.budget < 1:
        raise CliError(f"calibrate: --budget must be >= 1 (got {args.budget})")
    overrides = overrides_from(args)
    scenario = load_scenario(args.scenario)
    load_scenario(scenario, overrides)
    load_facts()
    if args.scheduler or args.scheduler_file:  # an unusable cluster: one line, before any run
        from openweight_sim.experiments.executors import check_scheduler

        check_scheduler(args.scheduler, args.scheduler_file)
    out = out_dir_for(args, "results/calibrate", "calibration")
    bar = tqdm(total=args.budget, desc="calibrate", unit="eval", file=sys.stderr)

    def progress(ev: Any, best: Any) -> None:
        bar.update(1)
        bar.set_postfix(loss=f"{best.loss:.3f}", within=best.within, refresh=False)

    try:
        result = fit(
            scenario,
            replications=args.replications,
            seed=args.seed,
            max_evals=args.budget,
            overrides=overrides,
            fresh_replications=args.fresh_replications,
            on_eval=progress,
            scheduler_file=args.scheduler_file,
            **run_options(args),
        )
    finally:
        bar.close()
    s = result.settings
    ov = s["overrides"]
    start_card, fitted_card = result.cards["start"], result.cards["fitted"]
    with atomic_dir(out, "calibration") as tmp:
        _write_calibration(tmp, scenario, args, result)
    print(
        f"calibrate {scenario.name}: {s['evaluations']} evaluations × {args.replications} "
        f"replication(s) at {ov['developers.count']:,} developers in {s['seconds']} s"
    )
    print(f"loss {result.start_loss:.3f} -> {result.fitted_loss:.3f} (fit seeds)")
    print(f"loss {result.fresh_start_loss:.3f} -> {result.fresh_loss:.3f} (fresh seeds)")
    print(f"before: {summary_line(start_card)}")
    print(f"after:  {summary_line(fitted_card)}")
    print(f"after, fresh seeds: {summary_line(result.cards['fresh_fitted'])}")
    width = max(len(k) for k in [*result.fitted, *result.catch_up.get("path", [])])
    for k, v in result.fitted.items():
        print(f"  {k:{width}}  {result.start[k]:>8g} -> {v:g}")
    for r in result.catch_up.itertuples():
        print(f"  {r.path:{width}}  {r.current:>8g} -> {r.estimate:g}  (release table)")
    print(
        f"results: {out}/ (fitted.yaml, report.md, trace.csv, scorecard.csv, scorecard_fresh.csv)"
    )
    return 0
