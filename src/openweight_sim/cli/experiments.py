"""Command line of the experiments: ``compare``, ``sweep`` and ``analyze``.

:func:`openweight_sim.cli.build_parser` calls :func:`register`; each handler returns an
exit status. Input errors are raised as :class:`~openweight_sim.scenario.ScenarioError`
(one line, exit 2) before anything is written; results directories are written atomically,
except a sweep's, which is filled run by run so that it can be resumed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openweight_sim.cli.common import (
    CliError,
    add_executor_arguments,
    metadata,
    overrides_from,
    run_options,
)
from openweight_sim.cli.predictive import add_posterior_arguments, compare_with_posterior
from openweight_sim.experiments.executors import default_workers
from openweight_sim.outdir import add_force_flag, out_dir_for
from openweight_sim.scenario import QUARTER_RE, ScenarioError

SWEEP_EPILOG = """\
sweep file (YAML; see scenarios/sweeps/small.yaml):
  scenario: baseline                 bundled name or path
  counterfactual: no_open_weights    optional: enables column/cf@quarter outputs
                                     (`closed`: the scenario itself with every lab closed)
  constants: {developers.count: 2000}   overrides applied to every run
  design: {method: sobol, samples: 64, seed: 7}   grid | lhs | sobol | morris
  parameters:
    developers.price_sensitivity: [1.0, 2.0]   [low, high] for lhs/sobol/morris
    labs.meta.release_interval: [2, 3, 4]      list of values for grid
  replications: 3
  outputs: [price_closed@2026Q4, share_open_tokens@final, price_closed/cf@2026Q4]

Run i (point p, replication r, i = p*replications + r) uses seed
spawn_seeds(design.seed, runs)[i]; results are identical for every executor and worker
count. Each finished run is stored at once in OUT/runs/; --resume skips them.
Bundled sweeps: small (under a minute), thesis_sobol (the real one)."""

ANALYZE_EPILOG = """\
methods:
  sobol   first-order S1 and total ST indices with 95% intervals (needs a sobol design)
  morris  mu* (with 95% interval) and sigma (needs a morris design)
  prim    scenario discovery: boxes of parameter ranges where OUTPUT < THRESHOLD
          (or > with --above), with coverage and density (any design)

Outputs are averaged over each point's replications. To ask "where does the closed price
fall below X% of its counterfactual?", sweep with `counterfactual: no_open_weights` and
the output price_closed/cf@2026Q4 (the ratio of the two runs with the same parameters and
seed), then: analyze DIR --method prim --output price_closed/cf@2026Q4 --threshold 0.5"""


# --------------------------------------------------------------------------- compare


def _parse_quarters(text: str | None, both: list[str]) -> list[str] | None:
    if not text:
        return None
    quarters = [q.strip() for q in text.split(",") if q.strip()]
    for q in quarters:
        if not QUARTER_RE.match(q):
            raise ScenarioError("--quarters", q, "expected a quarter such as 2026Q4")
        if q not in both:
            raise ScenarioError(
                "--quarters", q, f"not simulated by both scenarios ({both[0]}–{both[-1]})"
            )
    return quarters


def _compare_metadata(args: argparse.Namespace, sa: Any, sb: Any, quarters: list) -> dict:
    """What a compare directory needs to be reproduced: versions, seeds, both scenarios."""
    from openweight_sim.seeds import spawn_seeds

    seeds = {
        "root": args.seed,
        "replications": args.replications,
        "run_seeds": spawn_seeds(args.seed, args.replications),
        "pairing": "replication r of A and of B use run_seeds[r]",
    }
    meta = metadata(sa, seeds, " ".join(sys.argv))
    meta["scenario_a"] = meta.pop("scenario")
    return meta | {"quarters": quarters, "scenario_b": sb.model_dump(mode="json")}


def cmd_compare(args: argparse.Namespace) -> int:
    """Paired comparison of two scenarios; prints the thesis table, writes results."""
    from openweight_sim.counterfactual import counterfactual_scenario
    from openweight_sim.experiments.compare import compare_frames, paired_runs
    from openweight_sim.experiments.plots import plot_compare_fans
    from openweight_sim.experiments.replicate import bands
    from openweight_sim.experiments.thesis import thesis_text
    from openweight_sim.io import atomic_dir, write_json, write_table
    from openweight_sim.scenario import load_scenario

    overrides = overrides_from(args)
    sa = load_scenario(args.a, overrides)
    sb = load_scenario(args.b, overrides) if args.b else counterfactual_scenario(sa)
    both = [q for q in sa.quarters if q in set(sb.quarters)]
    if not both:
        raise ScenarioError(args.b, "", f"shares no quarter with {sa.name}")
    quarters = _parse_quarters(args.quarters, both)
    if args.posterior or args.draws is not None:
        return compare_with_posterior(args, sa, sb, quarters)
    out = out_dir_for(args, f"results/compare-{sa.name}-vs-{sb.name}", "compare")
    started = time.perf_counter()
    qa, qb = paired_runs(sa, sb, args.replications, args.seed, None, **run_options(args))
    table = compare_frames(qa, qb, quarters)
    text = thesis_text(table, sa.name, sb.name, args.replications, args.seed)
    with atomic_dir(out, "compare") as tmp:
        write_table(table, tmp, "compare")
        write_table(qa, tmp, "quarters_a")
        write_table(qb, tmp, "quarters_b")
        bq = pd.concat(
            [
                bands(qa).assign(scenario=sa.name, side="A"),
                bands(qb).assign(scenario=sb.name, side="B"),
            ],
            ignore_index=True,
        )
        write_table(bq, tmp, "bands")
        (tmp / "thesis.txt").write_text(text + "\n")
        history = sa.history_until if sa.history else None
        plot_compare_fans(qa, qb, tmp / "plots", sa.name, sb.name, history)
        write_json(
            tmp / "metadata.json",
            _compare_metadata(args, sa, sb, list(dict.fromkeys(table["quarter"]))),
        )
    print(text)
    from openweight_sim.market import impossible_market_warning

    for name, q in ((sa.name, qa), (sb.name, qb)):
        warning = impossible_market_warning(q)
        if warning:
            print(f"{name}: {warning}")
    elapsed = time.perf_counter() - started
    print(
        f"\n{2 * args.replications} runs in {elapsed:.1f} s; results: {out}/ "
        "(compare.csv, thesis.txt, quarters_a.csv, quarters_b.csv, bands.csv, plots/)"
    )
    return 0


# --------------------------------------------------------------------------- sweep


def _summary(results: pd.DataFrame, outputs: list[str]) -> str:
    lines = [f"{'output':40}{'mean':>12}{'p5':>12}{'p95':>12}{'NaN':>6}"]
    for o in outputs:
        v = results[o].to_numpy(dtype=float)
        f = v[np.isfinite(v)]
        stats = [f.mean(), *np.quantile(f, [0.05, 0.95])] if f.size else [np.nan] * 3
        lines.append(f"{o:40}" + "".join(f"{s:>12.4g}" for s in stats) + f"{v.size - f.size:>6}")
    return "\n".join(lines)


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run a sweep file; every finished run is stored at once (resumable)."""
    from openweight_sim.experiments.spec import read_sweep_file
    from openweight_sim.experiments.store import RunStore
    from openweight_sim.experiments.sweep import run_sweep

    spec, path = read_sweep_file(args.file)
    out = out_dir_for(args, Path("results") / "sweeps" / (spec.name or path.stem), "sweep")
    executor = "dask" if args.scheduler or args.scheduler_file else args.executor
    workers = 1 if executor == "serial" else (args.workers or default_workers())
    try:
        results = run_sweep(
            path,
            out,
            executor=executor,
            workers=workers,
            scheduler=args.scheduler,
            scheduler_file=args.scheduler_file,
            resume=args.resume,
            progress=not args.no_progress,
            replace=args.force,
        )
    except KeyboardInterrupt:
        store = RunStore(out)
        n = store.count()
        print(
            f"error: interrupted; {n} finished runs are stored in {out}/runs; continue with: "
            f"openweight-sim sweep {args.file} --out {out} --resume",
            file=sys.stderr,
        )
        return 130
    manifest = RunStore(out).read_manifest()
    session = manifest["sessions"][-1]
    n_runs, n_points = manifest["n_runs"], len(results["point"].unique())
    rate = session.get("runs_per_s") or 0.0
    print(
        f"{spec.name}: {n_runs} runs ({n_points} points × {spec.replications} replications, "
        f"{spec.design.method} design); this session ran {session['runs']} in "
        f"{session['elapsed_s']:.1f} s = {rate:.2f} runs/s ({executor}, {workers} worker(s))"
        + (f"; {session['runs_before']} were already stored" if session["runs_before"] else "")
    )
    print(_summary(results, list(spec.outputs)))
    ok = results[results["status"] == "ok"]
    missing = int(ok[list(spec.outputs)].isna().any(axis=1).sum())
    if missing:
        print(
            f"note: {missing} of {len(ok)} runs have no value for some output (NaN): a quarter "
            "without a price equilibrium reports no market outcome (quarters.no_equilibrium)"
        )
    _plot_sweep(out, results, spec)
    print(
        f"results: {out}/results.csv (runs: {out}/runs/, manifest: {out}/manifest.json, "
        "plots/sweep_outputs.png)"
    )
    if manifest["n_failed"]:
        failed = results[results["status"] != "ok"]
        rec = RunStore(out).read_run(int(failed["run"].iloc[0]))
        print(
            f"error: {manifest['n_failed']} run(s) failed (run {rec['run']}: {rec['error']}); "
            "rerun with --resume to retry them",
            file=sys.stderr,
        )
        return 1
    if spec.design.method in ("sobol", "morris"):
        print(f"next: openweight-sim analyze {out} --method {spec.design.method}")
    else:
        print(_prim_hint(out, ok, list(spec.outputs)))
    return 0


def _plot_sweep(out: Path, results: pd.DataFrame, spec) -> None:
    """Draw the distribution of each output over the sweep's runs (``plots/``)."""
    from openweight_sim.experiments.plots import save_figure, sweep_outputs_figure

    fig = sweep_outputs_figure(results, list(spec.outputs), spec.name or out.name)
    save_figure(fig, out / "plots" / "sweep_outputs.png")


def _prim_hint(out: Path, ok: pd.DataFrame, outputs: list[str]) -> str:
    """A PRIM command that works as printed: the first output with values, cut at its median."""
    for o in outputs:
        v = ok[o].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        if v.size and v.min() < v.max():
            return (
                f"next: openweight-sim analyze {out} --method prim --output {o} "
                f"--threshold {float(np.median(v)):.4g}\n      (cases: {o} below the median "
                "of its runs; choose your own threshold, --above for the other side)"
            )
    return f"next: every output is constant or undefined in {out}: nothing for PRIM to explain"


# --------------------------------------------------------------------------- analyze


def _write_sensitivity(sweep, method: str, outputs: list[str] | None, tmp: Path) -> str:
    from openweight_sim.experiments import plots
    from openweight_sim.experiments.sensitivity import morris_indices, sobol_indices
    from openweight_sim.io import write_table

    if method == "sobol":
        table = sobol_indices(sweep, outputs)
        key, fig_fn = "ST", plots.sobol_figure
    else:
        table = morris_indices(sweep, outputs)
        key, fig_fn = "mu_star", plots.morris_figure
    write_table(table, tmp, method)
    _write_analysis_meta(tmp, method, n_base=sweep.spec.design.samples)
    lines = []
    for out in dict.fromkeys(table["output"]):
        t = table[table["output"] == out].sort_values(key, ascending=False)
        lines.append(f"\n{method.capitalize()} indices of {out}:")
        if t[key].isna().all():
            y = sweep.point_means()[out]
            n_nan = int(y.isna().sum())
            why = (
                f"NaN at {n_nan} of {len(y)} points; the analysis needs a value at every "
                "point, so choose an output defined everywhere"
                if n_nan
                else "the output does not vary"
            )
            lines.append(f"  undefined: {why}")
            continue
        if method == "sobol":
            lines.append(f"  {'parameter':40}{'S1':>8}{'95% CI':>18}{'ST':>8}{'95% CI':>18}")
            for r in t.itertuples():
                lines.append(
                    f"  {r.parameter:40}{r.S1:>8.3f}{f'{r.S1_lo:.3f}–{r.S1_hi:.3f}':>18}"
                    f"{r.ST:>8.3f}{f'{r.ST_lo:.3f}–{r.ST_hi:.3f}':>18}"
                )
        else:
            lines.append(f"  {'parameter':40}{'mu*':>12}{'± 95%':>12}{'sigma':>12}{'mu':>12}")
            for r in t.itertuples():
                lines.append(
                    f"  {r.parameter:40}{r.mu_star:>12.4g}{r.mu_star_conf:>12.3g}"
                    f"{r.sigma:>12.4g}{r.mu:>12.4g}"
                )
        if method == "sobol":
            n_base = sweep.spec.design.samples
            notes = plots.sobol_warnings(table, out, n_base)
            lines += [f"  warning: not trustworthy at this sample size: {n}" for n in notes]
            fig = plots.sobol_figure(table, out, n_base)
        else:
            fig = fig_fn(table, out)
        plots.save_figure(fig, tmp / "plots" / f"{method}_{plots.slug(out)}.png")
    return "\n".join(lines)


def _bounds(sweep) -> dict[str, tuple[float, float]]:
    pts = sweep.points
    if sweep.spec.design.method == "grid":
        return {c: (float(pts[c].min()), float(pts[c].max())) for c in pts}
    return {c: sweep.spec.bounds(c) for c in sweep.spec.parameter_names}


def _write_prim(sweep, args: argparse.Namespace, tmp: Path) -> str:
    from openweight_sim.experiments.discovery import boxes_table, prim
    from openweight_sim.io import write_table

    if args.threshold is None:
        raise CliError("analyze: --method prim needs --threshold (cases: output < threshold)")
    if args.output and len(args.output) > 1:
        raise CliError("analyze: --method prim takes one --output")
    outputs = sweep.outputs
    target = (
        args.output[0] if args.output else next((o for o in outputs if "/cf@" in o), outputs[0])
    )
    if target not in outputs:
        raise ScenarioError(
            str(sweep.directory),
            "outputs",
            f"no output {target!r} in this sweep (it has {', '.join(outputs)})",
        )
    pts = sweep.points
    numeric = [c for c in pts if pd.api.types.is_numeric_dtype(pts[c])]
    dropped = [c for c in pts if c not in numeric]
    y_mean = sweep.point_means()[target]
    keep = y_mean.notna().to_numpy()
    y = (y_mean > args.threshold) if args.above else (y_mean < args.threshold)
    x, y = pts.loc[keep, numeric].reset_index(drop=True), y[keep].to_numpy()
    if not numeric:
        raise ScenarioError(str(sweep.directory), "parameters", "no numeric parameter for PRIM")
    op = ">" if args.above else "<"
    question = f"{target} {op} {args.threshold:g}"
    lines = [
        f"\nPRIM: where is {question}? {int(y.sum())} of {len(y)} points "
        f"({y.mean():.0%}; outputs averaged over {sweep.spec.replications} replication(s))"
    ]
    if dropped:
        lines.append(f"  (non-numeric parameters left out: {', '.join(dropped)})")
    if not keep.all():
        lines.append(
            f"  ({int((~keep).sum())} point(s) left out: {target} has no value there, e.g. a "
            "quarter without a price equilibrium, whose market outcomes are not reported)"
        )
    cases = pts.assign(**{target: y_mean.to_numpy(), "of_interest": np.nan})
    cases.loc[keep, "of_interest"] = y.astype(float)
    write_table(cases, tmp, "prim_cases")
    if not y.any():
        lines.append("  no point meets the condition: no box")
        _write_analysis_meta(tmp, "prim", question=question, boxes=0)
        write_table(boxes_table([]), tmp, "prim_boxes")
        return "\n".join(lines)
    boxes = prim(
        x,
        y,
        peel_alpha=args.peel_alpha,
        paste_alpha=args.paste_alpha,
        mass_min=args.mass_min,
        min_density=args.min_density,
        max_boxes=args.boxes,
        max_qp=args.max_qp,
    )
    table = boxes_table(boxes)
    write_table(table, tmp, "prim_boxes")
    traj = pd.concat(
        [b.trajectory.assign(box=i) for i, b in enumerate(boxes, start=1)], ignore_index=True
    )
    write_table(traj, tmp, "prim_trajectory")
    for i, b in enumerate(boxes, start=1):
        lines.append(
            f"Box {i}: coverage {b.coverage:.0%}, density {b.density:.0%}, mass {b.mass:.0%} "
            f"({b.n} points, {b.n_interest} of interest)"
        )
        lines.append(f"  {b.describe()}")
        for r in b.limits.itertuples():
            lines.append(f"    {r.parameter:40} [{r.low:.4g}, {r.high:.4g}]  qp {r.qp:.2g}")
    _draw_prim(tmp, boxes, table, _bounds(sweep), question)
    return "\n".join(lines)


def _draw_prim(tmp: Path, boxes, table: pd.DataFrame, bounds: dict, question: str) -> None:
    """PRIM's trade-off and boxes figures, and what ``plot`` needs to redraw them."""
    from openweight_sim.experiments import plots

    plots.save_figure(
        plots.prim_tradeoff_figure(boxes[0].trajectory, boxes[0].selected, question),
        tmp / "plots" / "prim_tradeoff.png",
    )
    plots.save_figure(
        plots.prim_boxes_figure(table, bounds, question), tmp / "plots" / "prim_boxes.png"
    )
    _write_analysis_meta(
        tmp,
        "prim",
        question=question,
        selected=int(boxes[0].selected),
        bounds={k: [float(lo), float(hi)] for k, (lo, hi) in bounds.items()},
    )


def _write_analysis_meta(tmp: Path, method: str, **fields) -> None:
    """Record what ``plot`` needs to redraw this analysis's figures (``analysis.json``)."""
    from openweight_sim.io import write_json
    from openweight_sim.redraw import ANALYSIS_META

    write_json(tmp / ANALYSIS_META, {"method": method} | fields)


def cmd_analyze(args: argparse.Namespace) -> int:
    """Sensitivity indices (sobol, morris) or scenario discovery (prim) of a stored sweep."""
    from openweight_sim.experiments.sweep import open_sweep
    from openweight_sim.io import atomic_dir

    sweep = open_sweep(args.sweep_dir)
    method = args.method or {"sobol": "sobol", "morris": "morris"}.get(
        sweep.spec.design.method, "prim"
    )
    if method in ("sobol", "morris"):
        prim_only = [
            flag
            for flag, used in (
                ("--threshold", args.threshold is not None),
                ("--above", args.above),
                ("--boxes", args.boxes != 3),
                ("--peel-alpha", args.peel_alpha != 0.05),
                ("--paste-alpha", args.paste_alpha != 0.05),
                ("--mass-min", args.mass_min != 0.05),
            )
            if used
        ]
        if prim_only:
            raise CliError(f"{', '.join(prim_only)}: for --method prim only, not {method}")
        from openweight_sim.experiments.sensitivity import check_analyzable

        check_analyzable(sweep, method)
    elif not sweep.complete:
        raise ScenarioError(
            str(sweep.directory),
            "",
            "sweep incomplete; finish it with `openweight-sim sweep FILE --out DIR --resume`",
        )
    out = out_dir_for(args, Path(args.sweep_dir) / f"analysis-{method}", "analysis")
    with atomic_dir(out, "analysis") as tmp:
        if method == "prim":
            text = _write_prim(sweep, args, tmp)
        else:
            text = _write_sensitivity(sweep, method, args.output, tmp)
        (tmp / f"{method}.txt").write_text(text.lstrip("\n") + "\n")
    print(f"{sweep.spec.name}: {len(sweep.results)} runs, {len(sweep.points)} points" + text)
    print(f"\nresults: {out}/ ({method}*.csv, plots/)")
    return 0


# --------------------------------------------------------------------------- registration


def register(sub: Any) -> None:
    """Add ``compare``, ``sweep`` and ``analyze`` to the ``openweight-sim`` parser."""
    _add_compare(sub)
    _add_sweep(sub)
    _add_analyze(sub)


def _add_compare(sub: Any) -> None:
    p = sub.add_parser(
        "compare",
        help="paired runs of two scenarios (common random numbers): ratios and differences",
        description="Run scenarios A and B with common random numbers (replication r of "
        "both uses the same seed) and report A/B ratios and A-B differences with 95% "
        "intervals at each year's last quarter, led by the thesis table. Example: "
        "openweight-sim compare baseline no_open_weights",
    )
    p.add_argument("a", help="scenario A (bundled name or YAML path)")
    p.add_argument(
        "b",
        nargs="?",
        help="scenario B, the reference (e.g. no_open_weights; default: A's counterfactual, "
        "A with every lab closed)",
    )
    p.add_argument("--replications", type=int, default=10, help="paired runs (default 10)")
    p.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    p.add_argument(
        "--set",
        action="append",
        metavar="PATH=VALUE",
        help="override a parameter in both scenarios",
    )
    p.add_argument(
        "--quarters",
        metavar="Q,Q",
        help="quarters to compare, e.g. 2025Q4,2027Q4 (default: each year's last quarter)",
    )
    add_executor_arguments(p)
    p.add_argument("--out", help="results directory (default results/compare-A-vs-B)")
    add_force_flag(p)
    add_posterior_arguments(p)
    p.set_defaults(func=cmd_compare)


def _add_sweep(sub: Any) -> None:
    p = sub.add_parser(
        "sweep",
        help="run a parameter sweep (grid, lhs, sobol, morris); resumable",
        description="Run every point x replication of a sweep file, storing each finished "
        "run at once.",
        epilog=SWEEP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", help="sweep YAML file, or a bundled sweep's name (small, thesis_sobol)")
    add_executor_arguments(p)
    p.add_argument(
        "--scheduler-file",
        metavar="PATH",
        help="scheduler file of a running Dask cluster, as written by "
        "`dask scheduler --scheduler-file PATH` or dask-jobqueue (implies --executor dask)",
    )
    p.add_argument("--out", help="sweep directory (default results/sweeps/<name>)")
    add_force_flag(p)
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the sweep stored in --out, skipping its finished runs",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_sweep)


def _add_analyze(sub: Any) -> None:
    p = sub.add_parser(
        "analyze",
        help="Sobol or Morris sensitivity, or PRIM scenario discovery, of a sweep",
        description="Analyse a finished sweep directory.",
        epilog=ANALYZE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("sweep_dir", help="a sweep directory (written by `sweep`)")
    p.add_argument(
        "--method",
        choices=("sobol", "morris", "prim"),
        help="default: the sweep's design (sobol, morris), else prim",
    )
    p.add_argument(
        "--output",
        action="append",
        metavar="NAME",
        help="output(s) to analyse, e.g. price_closed@2026Q4 (default: all; prim: "
        "the first ratio output, else the first)",
    )
    p.add_argument("--threshold", type=float, help="prim: cases of interest are output < this")
    p.add_argument("--above", action="store_true", help="prim: cases are output > threshold")
    p.add_argument(
        "--min-density",
        type=float,
        default=0.8,
        help="prim: least density of a selected box (default 0.8)",
    )
    p.add_argument("--peel-alpha", type=float, default=0.05, help="prim: peeling share (0.05)")
    p.add_argument("--paste-alpha", type=float, default=0.05, help="prim: pasting share (0.05)")
    p.add_argument("--mass-min", type=float, default=0.05, help="prim: smallest box (0.05)")
    p.add_argument("--boxes", type=int, default=3, help="prim: most boxes (default 3)")
    p.add_argument(
        "--max-qp",
        type=float,
        default=0.5,
        help="prim: drop limits whose quasi-p-value exceeds this (default 0.5)",
    )
    p.add_argument("--out", help="default SWEEP_DIR/analysis-<method>")
    add_force_flag(p)
    p.set_defaults(func=cmd_analyze)
