"""Full-size posterior run and its write-up in docs/calibration.md (``make posterior``).

Runs, on the baseline as it is on the branch where this script runs:

1. ``openweight-sim posterior`` at the calibration's population (3,000 developers per run),
   500 particles, up to 8 generations, on 2 process workers; its wall time is measured;
2. ``openweight-sim compare baseline no_open_weights --posterior`` (40 draws × 5 paired runs);

then replaces the text between ``<!-- posterior:begin -->`` and ``<!-- posterior:end -->`` in
``docs/calibration.md`` with the measured figures (wall time, effective sample size, per-fact
hit rates against the CMA-ES point, shrinkage per parameter, the verdict with both kinds of
uncertainty) and copies the figures to ``docs/posterior/``. Options pass through to the
posterior command after ``--`` (e.g. ``-- --population 200`` for a smaller trial).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "calibration.md"
FIGURES = ROOT / "docs" / "posterior"
BEGIN, END = "<!-- posterior:begin -->", "<!-- posterior:end -->"


def run(cmd: list[str]) -> tuple[str, float]:
    """Run an openweight-sim command; its stdout and wall time (stops on failure)."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "openweight_sim.cli", *cmd], text=True, capture_output=True
    )
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    return proc.stdout, time.perf_counter() - t0


def section(post: Path, cmp_text: str, seconds: float, command: str) -> str:
    """The generated Markdown between the markers."""
    gens = pd.read_csv(post / "generations.csv")
    shrink = pd.read_csv(post / "shrinkage.csv")
    check = pd.read_csv(post / "fact_check.csv")
    sample = pd.read_parquet(post / "posterior.parquet")
    w = sample["weight"].to_numpy()
    ess = 1.0 / (w**2).sum()
    n_ok = int(check["not_worse"].sum())
    beh = check[~check["by_construction"]]
    n_beh = int(beh["not_worse"].sum())
    verdict = next((ln for ln in cmp_text.splitlines() if ln.startswith("In ")), "")
    lines = [
        BEGIN,
        "",
        f"Measured with `{command}` (and `make posterior`): wall time **{seconds / 60:.1f} min** "
        f"on 2 process workers; {int(gens['simulations'].sum())} proposals over {len(gens)} "
        f"generations, final threshold {gens['epsilon'].iloc[-1]:.3g}; effective sample size "
        f"**{ess:.0f}** of {len(sample)} particles. Per-fact hit rate under the posterior no "
        f"worse than at the CMA-ES point for **{n_ok} of {len(check)} facts "
        f"({n_ok / len(check):.0%})**; {n_beh} of {len(beh)} facts that behaviour can move "
        f"({n_beh / max(len(beh), 1):.0%}).",
        "",
        "| parameter | prior | CMA-ES point | posterior mean | 95% interval | shrinkage |",
        "|---|---|---|---|---|---|",
    ]
    for r in shrink.itertuples():
        lines.append(
            f"| `{r.parameter}` | {r.prior} | {r.point:.4g} | {r.posterior_mean:.4g} | "
            f"{r.q025:.4g}–{r.q975:.4g} | {r.shrinkage:.2f} |"
        )
    worse = check[~check["not_worse"]]
    named = [f"{r.id} ({r.hit_posterior:.2f} vs {r.hit_point:.2f})" for r in worse.itertuples()]
    lines += [
        "",
        "Facts whose hit rate is lower under the posterior than at the point: "
        + (", ".join(named) or "none")
        + ".",
        "",
        f"Verdict with both kinds of uncertainty (`compare baseline no_open_weights "
        f"--posterior`): {verdict}",
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
    """Run the posterior and the comparison, then update the document."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/posterior-acceptance")
    parser.add_argument("extra", nargs="*", help="options passed on to `posterior`")
    args = parser.parse_args()
    post = Path(args.out)
    cmd = [
        "posterior", "--out", str(post), "--force", "--population", "500", "--generations",
        "8", "--executor", "processes", "--workers", "2", *args.extra,
    ]  # fmt: skip
    if (post.parent / f".{post.name}.posterior-checkpoint").exists():
        cmd.append("--resume")
    out, seconds = run(cmd)
    print(out)
    cmp_text, _ = run(
        ["compare", "baseline", "no_open_weights", "--posterior", str(post), "--draws", "40",
         "--replications", "5", "--executor", "processes", "--workers", "2", "--out",
         f"{post}-compare", "--force"]
    )  # fmt: skip
    print(cmp_text)
    FIGURES.mkdir(parents=True, exist_ok=True)
    for name in ("marginals", "pairs", "hit_rates", "projection_price_closed"):
        shutil.copyfile(post / "plots" / f"{name}.png", FIGURES / f"{name}.png")
    text = DOC.read_text()
    new = section(post, cmp_text, seconds, "openweight-sim " + " ".join(cmd))
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    DOC.write_text(pattern.sub(lambda _: new, text) if pattern.search(text) else text + new)
    print(f"updated {DOC.relative_to(ROOT)} and {FIGURES.relative_to(ROOT)}/")


if __name__ == "__main__":
    main()
