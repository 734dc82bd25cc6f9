"""Full-size posterior run and its write-up in docs/calibration.md (``make posterior``).

Runs, on the baseline as it is on the branch where this script runs:

1. ``openweight-sim posterior`` at the calibration's population (3,000 developers per run),
   500 particles, up to 8 generations and 12,000 proposals, on 2 process workers; its wall
   time is read from the run itself (pyabc's start to the results being written), so a run
   stopped and resumed counts its idle time too (``--reuse`` uses a finished run in ``--out``);
2. bundles it as ``data/posterior/baseline`` (``scripts/bundle_posterior.py``), the posterior
   that ``--posterior baseline`` and the dashboard read;
3. ``openweight-sim compare baseline no_open_weights --posterior`` (40 draws × 5 paired runs)
   and ``openweight-sim meta baseline --posterior`` (20 draws × 5 paired runs);

then replaces the text between ``<!-- posterior:begin -->`` and ``<!-- posterior:end -->`` in
``docs/calibration.md`` with the measured figures (wall time, effective sample size, per-fact
hit rates against the CMA-ES point, shrinkage per parameter, the verdict by tier and Meta's
value of openness with both kinds of uncertainty) and copies the figures to
``docs/posterior/``. Options pass through to the posterior command after ``--``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bundle_posterior import bundle

from openweight_sim.io import atomic_write_text
from openweight_sim.outdir import MARKER

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "calibration.md"
FIGURES = ROOT / "docs" / "posterior"
BEGIN, END = "<!-- posterior:begin -->", "<!-- posterior:end -->"
VERDICT = {
    "price_closed": "closed API price (all tiers)",
    "price_closed_frontier": "closed frontier-tier price",
    "price_closed_mid": "closed mid-tier price",
    "price_closed_small": "closed small-tier price",
    "closed_gross_margin": "closed labs' gross margin",
    "share_open_tokens": "open-weight share of tokens",
}


def run(cmd: list[str]) -> tuple[str, float]:
    """Run an openweight-sim command; its stdout and wall time (stops on failure)."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "openweight_sim.cli", *cmd], text=True, capture_output=True
    )
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    return proc.stdout, time.perf_counter() - t0


def wall_minutes(post: Path) -> tuple[float, float]:
    """Wall time of the posterior run: ABC-SMC generations, and start to results written.

    Both start at pyabc's recorded start of the run (a resumed run keeps it, so the time a
    stopped run lay idle before ``--resume`` is included); the first ends at the last
    generation, the second when the results directory was written (after the fact check and
    the projection).
    """
    con = sqlite3.connect(post / "history.db")
    start = con.execute("select start_time from abc_smc order by id desc limit 1").fetchone()[0]
    end = con.execute("select max(population_end_time) from populations").fetchone()[0]
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    t0 = datetime.strptime(start, fmt)
    abc = (datetime.strptime(end, fmt) - t0).total_seconds() / 60
    written = json.loads((post / MARKER).read_text())["created_unix"]
    return abc, (datetime.fromtimestamp(written) - t0).total_seconds() / 60


def _interval(r: pd.Series, kind: str) -> tuple[str, str, str]:
    if kind == "ratio":
        pred, par = f"{r['lo']:.2f}–{r['hi']:.2f}", f"{r['param_lo']:.2f}–{r['param_hi']:.2f}"
        return f"{r['mean']:.2f}×", pred, par
    f = "{:+.1f} pp".format
    return (
        f(100 * r["mean"]),
        f"{100 * r['lo']:+.1f} to {100 * r['hi']:+.1f}",
        f"{100 * r['param_lo']:+.1f} to {100 * r['param_hi']:+.1f}",
    )


def verdict_table(cmp_dir: Path, quarter: str) -> list[str]:
    """The thesis by tier with both kinds of uncertainty (compare --posterior's table)."""
    table = pd.read_csv(cmp_dir / "predictive.csv")
    rows = table[table["quarter"] == quarter].set_index("column")
    lines = [
        "| measure (baseline vs no open weights) | effect | 95% predictive | draw means | "
        "variance from parameters |",
        "|---|---|---|---|---|",
    ]
    for col, label in VERDICT.items():
        if col not in rows.index:
            continue
        r = rows.loc[col]
        mean, pred, par = _interval(r, r["kind"])
        lines.append(f"| {label} | {mean} | {pred} | {par} | {r['share_parameters']:.0%} |")
    return lines


def section(post: Path, cmp_dir: Path, meta_text: str, timing: dict, command: str) -> str:
    """The generated Markdown between the markers."""
    gens = pd.read_csv(post / "generations.csv")
    shrink = pd.read_csv(post / "shrinkage.csv")
    check = pd.read_csv(post / "fact_check.csv")
    sample = pd.read_parquet(post / "posterior.parquet")
    meta = json.loads((post / "metadata.json").read_text())
    settings, n_check = meta["settings"], meta["info"]["check"]
    w = sample["weight"].to_numpy()
    ess = 1.0 / (w**2).sum()
    beh = check[~check["by_construction"]]
    n_beh, n_noise = int(beh["not_worse"].sum()), int(beh["not_worse_within_noise"].sum())
    quarter = pd.read_csv(cmp_dir / "predictive.csv")["quarter"].iloc[-1]
    heads = [ln for ln in meta_text.splitlines() if ln.startswith("Value of openness")]
    meta_head = heads[0] if heads else ""
    lines = [
        BEGIN,
        "",
        f"Measured with `{command}` (`make posterior`) on 2 process workers of a 2-core machine: "
        f"**{timing['total']:.0f} min** from start to results (ABC-SMC generations "
        f"{timing['abc']:.0f} min by pyabc's clock; then the per-fact check and the projection), "
        f"{int(gens['simulations'].sum()):,} proposals over {len(gens)} generations (the "
        f"prior and {len(gens) - 1} more; the run stops after the generation in which "
        f"{settings['max_simulations']:,} proposals are reached), final threshold "
        f"{gens['epsilon'].iloc[-1]:.3g} (root-mean-square standardised miss; the CMA-ES "
        f"point's runs score about 1.5). **Effective sample size {ess:.0f}** of {len(sample)} "
        "particles.",
        "",
        "| generation | threshold | proposals | acceptance | ESS |",
        "|---|---|---|---|---|",
        *[
            f"| {r.t} | {r.epsilon:.3g} | {r.simulations} | {r.acceptance_rate:.2f} | {r.ess:.0f} |"
            for r in gens.itertuples()
        ],
        "",
        f"**Per-fact hit rates** ({n_check} fresh runs per side, the same seeds for the "
        f"posterior's draws and the point): of the {len(beh)} facts that behaviour can move, "
        f"the posterior hits **{n_beh} ({n_beh / len(beh):.0%}) at least as often as the "
        f"CMA-ES point** (the target was 80%); {n_noise} ({n_noise / len(beh):.0%}) are no "
        "worse beyond sampling noise (paired per-seed difference above −1.645 standard "
        "errors: a one-sided 5% test, fact by fact, with no correction for testing many "
        "facts). The "
        f"{len(check) - len(beh)} facts that hold by construction hit in every run on both "
        "sides.",
        "",
    ]
    worse = beh[~beh["not_worse_within_noise"]]
    named = [f"{r.id} ({r.hit_posterior:.2f} vs {r.hit_point:.2f})" for r in worse.itertuples()]
    better = beh[beh["hit_difference"] > 1.645 * beh["hit_difference_se"]]
    named_b = [f"{r.id} ({r.hit_posterior:.2f} vs {r.hit_point:.2f})" for r in better.itertuples()]
    lines += [
        "Worse under the posterior beyond noise: " + (", ".join(named) or "none") + ".",
        "Better under the posterior beyond noise: " + (", ".join(named_b) or "none") + ".",
        "",
        "| parameter | prior | CMA-ES point | posterior mean | 95% interval | shrinkage |",
        "|---|---|---|---|---|---|",
    ]
    for r in shrink.itertuples():
        lines.append(
            f"| `{r.parameter}` | {r.prior} | {r.point:.4g} | {r.posterior_mean:.4g} | "
            f"{r.q025:.4g}–{r.q975:.4g} | {r.shrinkage:.2f} |"
        )
    lines += [
        "",
        "Shrinkage is 1 − posterior variance / prior variance on the prior's scale (ln θ for a "
        "log-uniform prior): 0 means the 2023–2024 facts say nothing about the parameter.",
        "",
        f"**The verdict with both kinds of uncertainty**, {quarter} "
        f"(`compare baseline no_open_weights --posterior baseline --draws 40 --replications 5`, "
        f"{timing['compare']:.0f} s): per-run ratio A/B or difference A − B of paired runs.",
        "",
        *verdict_table(cmp_dir, quarter),
        "",
        f"**Meta's value of openness** (`meta baseline --posterior baseline --draws 20 "
        f"--replications 5`, {timing['meta']:.0f} s): {meta_head.strip()}",
        "",
        "![Posterior marginals](posterior/marginals.png)",
        "![Posterior pairs](posterior/pairs.png)",
        "![Hit rates](posterior/hit_rates.png)",
        "![Projection of the closed price](posterior/projection_price_closed.png)",
        "",
        END,
    ]
    return "\n".join(lines)


def main() -> None:
    """Run the posterior, bundle it, run the comparison and Meta's value, update the doc."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/posterior-acceptance")
    parser.add_argument("--reuse", action="store_true", help="use the finished run in --out")
    parser.add_argument("extra", nargs="*", help="options passed on to `posterior`")
    args = parser.parse_args()
    post = Path(args.out)
    cmd = [
        "posterior", "--out", str(post), "--force", "--population", "500", "--generations",
        "8", "--max-simulations", "12000", "--executor", "processes", "--workers", "2",
        *args.extra,
    ]  # fmt: skip
    if not args.reuse:
        if (post.parent / f".{post.name}.posterior-checkpoint").exists():
            cmd.append("--resume")
        out, _ = run(cmd)
        print(out)
    dest = bundle(post)
    print(f"bundled as {dest.relative_to(ROOT)}")
    timing = dict(zip(("abc", "total"), wall_minutes(post), strict=True))
    opts = ["--executor", "processes", "--workers", "2", "--force"]
    cmp_dir = Path(f"{post}-compare")
    cmp_text, timing["compare"] = run(
        ["compare", "baseline", "no_open_weights", "--posterior", str(dest), "--draws", "40",
         "--replications", "5", "--out", str(cmp_dir), *opts]
    )  # fmt: skip
    print(cmp_text)
    meta_text, timing["meta"] = run(
        ["meta", "baseline", "--posterior", str(dest), "--draws", "20", "--replications", "5",
         "--out", f"{post}-meta", *opts]
    )  # fmt: skip
    print(meta_text)
    FIGURES.mkdir(parents=True, exist_ok=True)
    for name in ("marginals", "pairs", "hit_rates", "projection_price_closed"):
        shutil.copyfile(post / "plots" / f"{name}.png", FIGURES / f"{name}.png")
    text = DOC.read_text()
    new = section(post, cmp_dir, meta_text, timing, "openweight-sim " + " ".join(cmd))
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    atomic_write_text(DOC, pattern.sub(lambda _: new, text) if pattern.search(text) else text + new)
    print(f"updated {DOC.relative_to(ROOT)} and {FIGURES.relative_to(ROOT)}/")


if __name__ == "__main__":
    main()
