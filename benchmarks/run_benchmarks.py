"""Benchmarks of openweight-sim (issue 6): throughput, memory, a naive Mesa loop, sweeps.

``make bench`` runs ``.venv/bin/python benchmarks/run_benchmarks.py --out benchmarks/results``.

What is measured (details in benchmarks/README.md):

* ``population``: the baseline (20 quarters) at ``developers.count`` 1e3 … 1e6, each size in
  a fresh subprocess; set-up (model construction) and run (``run_model``) timed apart, best
  of ``--repeat``; developer-quarters per second; peak RSS of that subprocess.
* ``naive_mesa`` and ``choice_kernel_vectorised``: the developer choice rule as one Mesa
  agent per developer (:mod:`naive_mesa`) and the vectorised rule on identical inputs, at
  1e3 and 1e4, each size in a fresh subprocess.
* ``cli_run``: wall time of ``openweight-sim run baseline`` (what ``make run`` runs).
* ``sweep``: runs per second of the bundled ``small`` sweep, and of the same design with
  runs of over a second, with the serial, processes and Dask executors (2 workers), through
  :func:`openweight_sim.experiments.run_sweep`; results checked identical.

Outputs in ``--out``: ``benchmarks.csv`` (tidy), ``benchmarks.md`` (tables for the README),
``time_vs_population.png`` (log-log), and with ``--profile`` a pyinstrument profile of one
100,000-developer run (``profile_100k.txt``, ``profile_100k_hotspots.md``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SIZES = (1_000, 10_000, 100_000, 1_000_000)
NAIVE_SIZES = (1_000, 10_000)
QUICK_SIZES = (1_000, 10_000)
SEED = 1
COLUMNS = [
    "benchmark",
    "developers",
    "quarters",
    "seconds",
    "setup_seconds",
    "developer_quarters_per_s",
    "peak_rss_mb",
    "executor",
    "workers",
    "runs",
    "runs_per_s",
    "note",
]


# --------------------------------------------------------------------------- children


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def child_population(n: int, repeat: int) -> dict[str, Any]:
    """Best-of-``repeat`` set-up and run time of the baseline at ``n`` developers."""
    import gc

    from openweight_sim.model import OpenWeightMarket

    rss_imports = _peak_rss_mb()
    setups, runs, steps = [], [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        model = OpenWeightMarket(
            "baseline", rng=SEED, developer_agents=False, **{"developers.count": n}
        )
        t1 = time.perf_counter()
        model.run_model()
        t2 = time.perf_counter()
        steps = model.steps
        setups.append(t1 - t0)
        runs.append(t2 - t1)
        del model
        gc.collect()
    return {
        "setup_s": min(setups),
        "run_s": min(runs),
        "all_run_s": runs,
        "quarters": steps,
        "peak_rss_mb": _peak_rss_mb(),
        "rss_after_imports_mb": rss_imports,
    }


def child_naive(n: int, repeat: int, quarters: int) -> dict[str, Any]:
    """Naive Mesa loop vs the vectorised choice rule on one captured quarter's inputs."""
    import gc

    import naive_mesa

    inputs, model = naive_mesa.capture_quarter(n, seed=SEED)
    gap = naive_mesa.check_probabilities(inputs)
    naive_setup, naive_run = [], []
    for r in range(repeat):
        s, t = naive_mesa.time_naive(inputs, quarters, seed=r)
        naive_setup.append(s)
        naive_run.append(t)
        gc.collect()
    kernel = [naive_mesa.vectorised_choice_quarters(inputs, model, quarters) for _ in range(repeat)]
    return {
        "label": inputs.label,
        "options": inputs.opts.size,
        "adopted": float(inputs.state["adopted"].mean()),
        "prob_gap": gap,
        "naive_setup_s": min(naive_setup),
        "naive_run_s": min(naive_run),
        "all_naive_run_s": naive_run,
        "kernel_s": min(kernel),
        "quarters": quarters,
        "peak_rss_mb": _peak_rss_mb(),
    }


def child_sweep(name: str, executor: str, workers: int, quick: bool) -> dict[str, Any]:
    """Run one sweep design with one executor; wall time, per-run times and outputs."""
    from openweight_sim.experiments import run_sweep
    from openweight_sim.experiments.store import RunStore

    spec = dict(_sweep_specs(quick))[name]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sweep"
        t0 = time.perf_counter()
        df = run_sweep(spec, out, executor=executor, workers=workers, progress=False)
        seconds = time.perf_counter() - t0
        per_run = [rec["elapsed_s"] for rec in RunStore(out).read_runs().values()]
    return {
        "seconds": seconds,
        "runs": len(df),
        "per_run_s": per_run,
        "status": df["status"].tolist(),
        "outputs": df[list(spec.outputs)].to_numpy(float).tolist(),
    }


def _run_child(kind: str, *args: str) -> dict[str, Any]:
    """Run ``--child KIND ARGS`` in a fresh interpreter; its last stdout line is JSON.

    A fresh process per measurement keeps measurements independent: memory peaks, and
    environment variables that a library sets in its parent process (Dask's nannies set
    ``MALLOC_TRIM_THRESHOLD_`` and thread limits in ``os.environ``) do not leak into the next.
    """
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child {' '.join(cmd[2:])} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- parent


def _row(**kw: Any) -> dict[str, Any]:
    return {
        c: kw.get(c, math.nan if c not in ("benchmark", "executor", "note") else "")
        for c in COLUMNS
    }


def baseline_quarters() -> int:
    """Number of quarters the baseline runs (its start to its end)."""
    from openweight_sim.scenario import load_scenario, quarter_index

    sc = load_scenario("baseline")
    return quarter_index(sc.end) - quarter_index(sc.start) + 1


def bench_population(sizes: tuple[int, ...], repeat: int) -> tuple[list[dict], dict[int, dict]]:
    """Vectorised baseline at each size, each in a fresh subprocess."""
    rows, raw = [], {}
    for n in sizes:
        print(f"  population {n:>9,} …", end="", flush=True)
        load_before = os.getloadavg()[0]
        r = _run_child("population", "--n", str(n), "--repeat", str(repeat))
        r["load"] = f"{load_before:.2f} → {os.getloadavg()[0]:.2f}"
        raw[n] = r
        dq = n * r["quarters"] / r["run_s"]
        print(f" run {r['run_s']:.3f} s, set-up {r['setup_s']:.3f} s, {dq:,.0f} dev-q/s")
        rows.append(
            _row(
                benchmark="population",
                developers=n,
                quarters=r["quarters"],
                seconds=r["run_s"],
                setup_seconds=r["setup_s"],
                developer_quarters_per_s=dq,
                peak_rss_mb=r["peak_rss_mb"],
                workers=1,
                note=f"baseline, developer_agents=False, best of {repeat} "
                f"(all: {', '.join(f'{t:.3f}' for t in r['all_run_s'])} s); "
                f"RSS after imports {r['rss_after_imports_mb']:.0f} MB; 1-min load {r['load']}",
            )
        )
    return rows, raw


def bench_naive(
    sizes: tuple[int, ...], repeat: int, quarters: int, population: dict[int, dict]
) -> tuple[list[dict], dict[int, dict]]:
    """Naive Mesa loop and the vectorised choice rule on the same inputs."""
    rows, raw = [], {}
    for n in sizes:
        print(f"  naive Mesa {n:>9,} …", end="", flush=True)
        load_before = os.getloadavg()[0]
        r = _run_child("naive", "--n", str(n), "--repeat", str(repeat), "--quarters", str(quarters))
        r["load"] = f"{load_before:.2f} → {os.getloadavg()[0]:.2f}"
        raw[n] = r
        naive_dq = n * quarters / r["naive_run_s"]
        kernel_dq = n * quarters / r["kernel_s"]
        r["kernel_ratio"] = kernel_dq / naive_dq
        full = population.get(n)
        r["full_ratio"] = (
            (n * full["quarters"] / full["run_s"]) / naive_dq if full is not None else math.nan
        )
        print(
            f" naive {r['naive_run_s']:.3f} s ({naive_dq:,.0f} dev-q/s), vectorised choice "
            f"{r['kernel_s']:.4f} s: ×{r['kernel_ratio']:.1f}; full model ×{r['full_ratio']:.2f}"
        )
        inputs = (
            f"inputs of {r['label']} ({r['options']} options, {r['adopted']:.0%} adopted), "
            f"reused each quarter"
        )
        rows.append(
            _row(
                benchmark="naive_mesa",
                developers=n,
                quarters=quarters,
                seconds=r["naive_run_s"],
                setup_seconds=r["naive_setup_s"],
                developer_quarters_per_s=naive_dq,
                peak_rss_mb=r["peak_rss_mb"],
                workers=1,
                note=f"one Mesa agent per developer, shuffle_do('step'); {inputs}; "
                f"max |p_naive - p_model| = {r['prob_gap']:.1e}; best of {repeat}; "
                f"1-min load {r['load']}; "
                f"full-model/naive = {r['full_ratio']:.2f}x, "
                f"vectorised choice/naive = {r['kernel_ratio']:.1f}x",
            )
        )
        rows.append(
            _row(
                benchmark="choice_kernel_vectorised",
                developers=n,
                quarters=quarters,
                seconds=r["kernel_s"],
                developer_quarters_per_s=kernel_dq,
                workers=1,
                note=f"_groups + _demand_system + logit shares + _choose on the same {inputs} "
                f"(no pricing); best of {repeat}",
            )
        )
    return rows, raw


def bench_cli_run(repeat: int) -> tuple[list[dict], list[float]]:
    """Wall time of ``openweight-sim run baseline`` (what ``make run`` runs), best of K."""
    exe = Path(sys.executable).with_name("openweight-sim")
    times = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            subprocess.run(
                [str(exe), "run", "baseline", "--out", str(Path(tmp) / "baseline")],
                check=True,
                capture_output=True,
            )
            times.append(time.perf_counter() - t0)
    print(f"  openweight-sim run baseline: {min(times):.2f} s wall")
    row = _row(
        benchmark="cli_run",
        developers=20_000,
        quarters=baseline_quarters(),
        seconds=min(times),
        workers=1,
        runs=1,
        note=f"wall time of `openweight-sim run baseline --out TMP` (= make run after set-up): "
        f"interpreter, imports, run, tables, plots; best of {repeat} "
        f"(all: {', '.join(f'{t:.2f}' for t in times)} s)",
    )
    return [row], times


def _sweep_specs(quick: bool):
    """The designs timed: the bundled ``small`` sweep, and the same design with long runs."""
    from openweight_sim.experiments import read_sweep_file
    from openweight_sim.experiments.spec import Design

    small, _ = read_sweep_file("small")
    if quick:
        tiny = small.model_copy(
            update={"name": "small_tiny", "design": Design(method="lhs", samples=4, seed=7)}
        )
        tiny = tiny.model_copy(update={"replications": 1})
        return [("sweep_tiny", tiny)]
    long = small.model_copy(
        update={
            "name": "small_long_runs",
            "constants": {"developers.count": 1_250_000, "end": "2027Q4"},
            "design": Design(method="lhs", samples=48, seed=7),
            "replications": 2,
        }
    )
    return [("sweep_small", small), ("sweep_long_runs", long)]


def bench_sweeps(quick: bool, workers: int = 2, repeat: int = 2) -> tuple[list[dict], list[dict]]:
    """Runs per second of the same sweep with each executor; results must be identical.

    Each executor runs the sweep ``repeat`` times, each time in a fresh process, and the
    fastest is kept (as for the population sizes): two 2-worker sweeps on a 2-core machine are
    sensitive to anything else that runs, and the best of several is the usual estimate of
    what the code itself costs. Every repetition's outputs are checked against serial.
    """
    import numpy as np

    from openweight_sim.scenario import load_scenario, quarter_index

    rows, summary = [], []
    for name, spec in _sweep_specs(quick):
        sc = load_scenario(spec.scenario, spec.constants)
        quarters = quarter_index(sc.end) - quarter_index(sc.start) + 1
        reference = None
        serial_rate = math.nan
        executors = ["serial", "processes", "dask"]
        for executor in executors:
            w = 1 if executor == "serial" else workers
            print(f"  {name} {executor:<9} ({w} worker{'s' if w > 1 else ''}) …", end="")
            print("", end="", flush=True)
            load_before = os.getloadavg()[0]
            opts = ["--sweep", name, "--executor", executor, "--workers", str(w)]
            reps = [
                _run_child("sweep", *opts, *(["--quick"] if quick else []))
                for _ in range(1 if quick else repeat)
            ]
            load = f"{load_before:.2f} → {os.getloadavg()[0]:.2f}"
            all_ok = all(st == "ok" for rr in reps for st in rr["status"])
            outs = [np.array(rr["outputs"], dtype=float) for rr in reps]
            r = min(reps, key=lambda rr: rr["seconds"])
            seconds, per_run, n_runs = r["seconds"], r["per_run_s"], r["runs"]
            ok = all_ok and all(np.array_equal(o, outs[0], equal_nan=True) for o in outs)
            a = outs[0]
            if reference is None:
                reference = a
            b = reference
            differ = ~((a == b) | (np.isnan(a) & np.isnan(b)))
            same = ok and not differ.any()
            diff_note = ""
            if not same:
                with np.errstate(divide="ignore", invalid="ignore"):
                    rel = (
                        np.nanmax(np.abs(a - b)[differ] / np.abs(b)[differ]) if differ.any() else 0
                    )
                bad = int(differ.any(axis=1).sum())
                failed = sum(st != "ok" for st in r["status"])
                diff_note = f"{bad} runs differ (max rel. diff {rel:.1e}), {failed} failed"
                print(f"\n    NOT identical to serial: {diff_note}", end="")
            rate = n_runs / seconds
            if executor == "serial":
                serial_rate = rate
            speedup = rate / serial_rate
            mean_run = float(np.mean(per_run))
            print(f" {n_runs} runs in {seconds:.1f} s: {rate:.2f} runs/s (×{speedup:.2f})")
            summary.append(
                {
                    "sweep": name,
                    "executor": executor,
                    "workers": w,
                    "runs": n_runs,
                    "seconds": seconds,
                    "runs_per_s": rate,
                    "speedup": speedup,
                    "mean_run_s": mean_run,
                    "identical": same,
                    "load": load,
                    "developers": int(sc.developers.count),
                    "quarters": quarters,
                }
            )
            rows.append(
                _row(
                    benchmark=name,
                    developers=int(sc.developers.count),
                    quarters=quarters,
                    seconds=seconds,
                    executor=executor,
                    workers=w,
                    runs=n_runs,
                    runs_per_s=rate,
                    note=f"run_sweep wall incl. pool/cluster start-up; {speedup:.2f}x serial; "
                    f"mean run {mean_run:.2f} s; 1-min load {load}; outputs identical to serial: "
                    f"{'yes' if same else 'NO: ' + diff_note}",
                )
            )
    return rows, summary


# --------------------------------------------------------------------------- profile


def profile_100k(out: Path, n: int = 100_000, top: int = 15) -> list[tuple[str, float, float]]:
    """Profile one baseline run (after set-up) with pyinstrument; write the hotspots."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        print("  --profile needs pyinstrument: .venv/bin/pip install pyinstrument")
        return []
    from openweight_sim.model import OpenWeightMarket

    model = OpenWeightMarket(
        "baseline", rng=SEED, developer_agents=False, **{"developers.count": n}
    )
    profiler = Profiler(interval=0.0005)
    profiler.start()
    model.run_model()
    profiler.stop()
    (out / "profile_100k.txt").write_text(profiler.output_text(unicode=True, color=False))
    session = profiler.last_session
    total = session.duration
    cumulative: dict[str, float] = {}
    own: dict[str, float] = {}

    def walk(frame, on_stack: frozenset[str]) -> None:
        path = (frame.file_path or "").replace("\\", "/")
        key = None
        if not frame.is_synthetic and "openweight_sim/" in path:
            name = f"{frame.class_name}.{frame.function}" if frame.class_name else frame.function
            key = f"{name} ({path.rsplit('/', 1)[-1]}:{frame.line_no})"
        if key is not None:
            if key not in on_stack:  # recursion: count a function once per stack
                cumulative[key] = cumulative.get(key, 0.0) + frame.time
            own[key] = own.get(key, 0.0) + frame.total_self_time
            on_stack = on_stack | {key}
        for child in frame.children:
            walk(child, on_stack)

    walk(session.root_frame(), frozenset())
    # Hotspots: the model's functions where the time goes (numpy calls count as the own
    # time of the function making them), not the callers that hold all of it.
    ranked = sorted(cumulative.items(), key=lambda kv: -kv[1])
    skip = {"OpenWeightMarket.run_model", "OpenWeightMarket.step"}
    hot = [(k, v, own.get(k, 0.0)) for k, v in ranked if k.split(" (")[0] not in skip][:top]
    lines = [
        f"pyinstrument, baseline, {n:,} developers, 20 quarters, run_model only "
        f"(profiled wall {total:.3f} s, sampling every 0.5 ms)",
        "",
        "| function (file:line) | cumulative s | share | own s |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| `{k}` | {v:.3f} | {v / total:.0%} | {s:.3f} |" for k, v, s in hot]
    (out / "profile_100k_hotspots.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return hot


# --------------------------------------------------------------------------- report


def machine() -> str:
    """CPU model, core count and memory of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = next(
            line for line in Path("/proc/meminfo").read_text().splitlines() if "MemTotal" in line
        )
        mem_gb = int(mem.split()[1]) / 1024**2
    except (OSError, StopIteration, ValueError):
        mem_gb = math.nan
    return f"{cpu}, {os.cpu_count()} cores, {mem_gb:.1f} GB RAM"


def versions() -> str:
    """Python and key library versions."""
    import mesa
    import numpy as np

    from openweight_sim import __version__

    return (
        f"openweight-sim {__version__}, Python {platform.python_version()}, "
        f"numpy {np.__version__}, Mesa {mesa.__version__}"
    )


def fmt_int(x: float) -> str:
    """Thousands-separated integer, or a dash."""
    return "–" if x is None or not math.isfinite(x) else f"{x:,.0f}"


def targets(
    pop: dict[int, dict],
    naive: dict[int, dict],
    cli_times: list[float],
    sweeps: list[dict],
) -> list[tuple[str, str, str]]:
    """The issue's targets against the measurements: (target, measured, met)."""
    out = []

    def yes(ok: bool) -> str:
        return "yes" if ok else "**no**"

    if 100_000 in pop:
        r = pop[100_000]
        dq = 100_000 * r["quarters"] / r["run_s"]
        out.append(("≥ 5,000,000 developer-quarters/s at 100,000", f"{dq:,.0f}", yes(dq >= 5e6)))
        out.append(
            (
                "baseline 100k: 20 quarters in < 0.4 s after set-up",
                f"{r['run_s']:.3f} s",
                yes(r["run_s"] < 0.4),
            )
        )
    if 10_000 in naive:
        r = naive[10_000]
        out.append(
            (
                "≥ 50× naive Mesa loop at 10,000 (full model dev-q/s ÷ naive)",
                f"{r['full_ratio']:.2f}×",
                yes(r["full_ratio"] >= 50),
            )
        )
        out.append(
            (
                "≥ 50× naive Mesa loop at 10,000 (vectorised choice rule ÷ naive, same inputs)",
                f"{r['kernel_ratio']:.1f}×",
                yes(r["kernel_ratio"] >= 50),
            )
        )
    if 100_000 in pop and 1_000_000 in pop:
        ratio = pop[1_000_000]["run_s"] / pop[100_000]["run_s"]
        out.append(("time(1e6) / time(1e5) ≤ 12", f"{ratio:.2f}", yes(ratio <= 12)))
        mb = pop[1_000_000]["peak_rss_mb"]
        out.append(("peak memory at 1e6 ≤ 2 GB", f"{mb:,.0f} MB", yes(mb <= 2048)))
    if cli_times:
        out.append(
            (
                "`make run` < 15 s wall after set-up",
                f"{min(cli_times):.2f} s",
                yes(min(cli_times) < 15),
            )
        )
    for s in sweeps:
        if s["sweep"] == "sweep_long_runs" and s["executor"] in ("processes", "dask"):
            out.append(
                (
                    f"sweep, 2 workers ({s['executor']}), runs ≥ 1 s: ≥ 1.6× serial runs/s",
                    f"{s['speedup']:.2f}× (mean run {s['mean_run_s']:.2f} s)",
                    yes(s["speedup"] >= 1.6),
                )
            )
    return out


def write_markdown(
    path: Path,
    rows: list[dict],
    pop: dict[int, dict],
    naive: dict[int, dict],
    sweeps: list[dict],
    tgt: list[tuple[str, str, str]],
    meta: dict[str, Any],
) -> str:
    """The tables as Markdown, ready to paste into the README."""
    L = [
        "## Benchmark results",
        "",
        f"Measured {meta['date']} on {meta['machine']}; {meta['versions']}; "
        f"commit {meta['commit']}, source fingerprint {meta['source']}.",
        f"Command: `{meta['command']}` ({meta['elapsed']:.0f} s in all). "
        f"Load average (1, 5, 15 min) at start {meta['load_start']}, at end {meta['load_end']}.",
        "",
        "### Population scaling (baseline, 20 quarters, one fresh process per size)",
        "",
        "| developers | set-up s | run s | developer-quarters/s | peak RSS MB |",
        "|---:|---:|---:|---:|---:|",
    ]
    for n, r in pop.items():
        dq = n * r["quarters"] / r["run_s"]
        L.append(
            f"| {n:,} | {r['setup_s']:.3f} | {r['run_s']:.3f} | {fmt_int(dq)} | "
            f"{r['peak_rss_mb']:,.0f} |"
        )
    if len(pop) > 1:
        ns = sorted(pop)
        steps = [f"{pop[b]['run_s'] / pop[a]['run_s']:.2f}" for a, b in itertools.pairwise(ns)]
        L += ["", f"Run-time ratio per 10× developers: {', '.join(steps)}."]
    L += [
        "",
        f"Run time is `run_model()` after construction, best of {meta['repeat']}, "
        "`developer_agents=False`; peak RSS is the process's `ru_maxrss` "
        f"(imports alone: {next(iter(pop.values()))['rss_after_imports_mb']:.0f} MB).",
        "",
        "### Naive one-Mesa-agent-per-developer loop vs vectorised (same choice rule)",
        "",
        "| developers | naive s | naive dev-q/s | vectorised choice s | vectorised choice "
        "dev-q/s | ratio | full model dev-q/s | full model ÷ naive |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, r in naive.items():
        q = r["quarters"]
        full = pop.get(n)
        full_dq = n * full["quarters"] / full["run_s"] if full else math.nan
        L.append(
            f"| {n:,} | {r['naive_run_s']:.3f} | {fmt_int(n * q / r['naive_run_s'])} | "
            f"{r['kernel_s']:.4f} | {fmt_int(n * q / r['kernel_s'])} | {r['kernel_ratio']:.1f}× | "
            f"{fmt_int(full_dq)} | {r['full_ratio']:.2f}× |"
        )
    if naive:
        r = next(iter(naive.values()))
        L += [
            "",
            f"Inputs: quarter {r['label']} of the baseline "
            f"({', '.join(str(x['options']) for x in naive.values())} options, "
            f"{r['adopted']:.0%} of developers adopted), reused for {r['quarters']} quarters. "
            "Naive and vectorised choice probabilities agree to "
            f"{max(x['prob_gap'] for x in naive.values()):.0e}. The vectorised-choice column "
            "times the same rule on the same inputs (groups, utilities, logit shares at the "
            "captured prices, draws, updates); the full-model column is the whole baseline "
            "(pricing equilibria, host entry, accounting included) from the table above.",
        ]
    if sweeps:
        L += [
            "",
            "### Sweep throughput (`run_sweep`, same design and seeds per executor)",
            "",
            "| sweep | developers | quarters | executor | workers | runs | wall s | runs/s | "
            "× serial | mean run s | identical | 1-min load |",
            "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---|---|",
        ]
        for s in sweeps:
            L.append(
                f"| {s['sweep']} | {s['developers']:,} | {s['quarters']} | {s['executor']} | "
                f"{s['workers']} | {s['runs']} | {s['seconds']:.1f} | {s['runs_per_s']:.2f} | "
                f"{s['speedup']:.2f} | {s['mean_run_s']:.2f} | "
                f"{'yes' if s['identical'] else 'NO'} | {s['load']} |"
            )
        L += [
            "",
            "Wall time includes starting the process pool or Dask cluster; each executor "
            "runs in a fresh process and writes its runs to a fresh sweep directory; best of 2 "
            "such sweeps per executor (outputs of both compared with serial). "
            "The long-run sweep has 96 runs so that starting the pool or cluster (about 2–4 s: "
            "worker processes import the package and load its compiled kernels) is amortised "
            "as in a real sweep of thousands of runs.",
        ]
    cli = [r for r in rows if r["benchmark"] == "cli_run"]
    if cli:
        L += [
            "",
            f"`openweight-sim run baseline` (what `make run` runs): "
            f"{cli[0]['seconds']:.2f} s wall.",
        ]
    if tgt:
        L += ["", "### Targets (issue 6)", "", "| target | measured | met |", "|---|---:|---|"]
        L += [f"| {t} | {m} | {ok} |" for t, m, ok in tgt]
    text = "\n".join(L) + "\n"
    path.write_text(text)
    return text


def plot(path: Path, pop: dict[int, dict], naive: dict[int, dict]) -> None:
    """Log-log run time against developers: vectorised, naive, and a slope-1 reference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(7, 5), dpi=120)
    ns = np.array(sorted(pop))
    ax.plot(ns, [pop[n]["run_s"] for n in ns], "o-", label="vectorised model, whole baseline run")
    if naive:
        nn = np.array(sorted(naive))
        ax.plot(
            nn,
            [naive[n]["kernel_s"] for n in nn],
            "s-",
            label="vectorised choice rule only (same inputs as naive)",
        )
        naive_t = np.array([naive[n]["naive_run_s"] for n in nn])
        ax.plot(nn, naive_t, "^-", color="C3", label="naive Mesa loop, one agent per developer")
        lo = min(nn.min(), ns.min())
        hi = max(nn.max(), ns.max())
        x = np.array([lo, hi])
        ax.plot(
            x,
            naive_t[0] * x / nn[0],
            "--",
            color="grey",
            label="slope 1 (time ∝ developers), through naive at smallest size",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("developers (developers.count)")
    ax.set_ylabel("run time for 20 quarters (s, after set-up)")
    ax.set_title("openweight-sim: run time against population (log-log)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def source_fingerprint() -> str:
    """Hash of the package's source and bundled files, to detect edits during a run."""
    import hashlib

    import openweight_sim
    from openweight_sim import bundled

    h = hashlib.sha256()
    for root in (
        Path(openweight_sim.__file__).resolve().parent,
        bundled.scenarios_dir(),
        bundled.bundled_path(bundled.DATA),
    ):
        for f in sorted(root.rglob("*")):
            if f.is_file() and f.suffix in (".py", ".yaml", ".csv"):
                h.update(f"{root.name}/{f.relative_to(root)}".encode())
                h.update(f.read_bytes())
    return h.hexdigest()[:12]


def git_commit() -> str:
    """Current commit of the repository (with ``+dirty`` if the tree has changes)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src", "scenarios", "data"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty src" if dirty else "")


def load_average() -> str:
    """The 1, 5 and 15 minute load averages."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def wait_for_idle(max_load: float, budget_s: float) -> None:
    """Sleep (60 s at a time, up to ``budget_s``) until the 1-minute load is ≤ ``max_load``."""
    waited = 0.0
    while os.getloadavg()[0] > max_load and waited < budget_s:
        print(f"load average {load_average()} > {max_load}: waiting 60 s", flush=True)
        time.sleep(60)
        waited += 60
    if os.getloadavg()[0] > max_load:
        print(f"warning: load average still {load_average()}; figures may be pessimistic")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks and write the CSV, Markdown table and plot."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=HERE / "results", help="output directory")
    ap.add_argument("--quick", action="store_true", help="1e3 and 1e4 only, a tiny sweep")
    ap.add_argument("--repeat", type=int, default=3, help="best of K runs per size")
    ap.add_argument("--no-sweep", action="store_true", help="skip the sweep benchmarks")
    ap.add_argument("--profile", action="store_true", help="pyinstrument profile of 100k")
    ap.add_argument(
        "--wait-idle", type=float, default=0.0, metavar="S", help="wait up to S s for low load"
    )
    ap.add_argument("--max-load", type=float, default=0.7, help="1-min load for --wait-idle")
    ap.add_argument("--child", choices=["population", "naive", "sweep"], help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--sweep", help=argparse.SUPPRESS)
    ap.add_argument("--executor", help=argparse.SUPPRESS)
    ap.add_argument("--workers", type=int, default=2, help=argparse.SUPPRESS)
    ap.add_argument("--quarters", type=int, default=20, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child == "population":
        print(json.dumps(child_population(args.n, args.repeat)))
        return 0
    if args.child == "naive":
        print(json.dumps(child_naive(args.n, args.repeat, args.quarters)))
        return 0
    if args.child == "sweep":
        print(json.dumps(child_sweep(args.sweep, args.executor, args.workers, args.quick)))
        return 0

    if args.wait_idle > 0:
        wait_for_idle(args.max_load, args.wait_idle)
    started = time.perf_counter()
    meta = {
        "date": dt.date.today().isoformat(),
        "machine": machine(),
        "versions": versions(),
        "command": " ".join(["python", "benchmarks/run_benchmarks.py", *(argv or sys.argv[1:])]),
        "load_start": load_average(),
        "commit": git_commit(),
        "source": source_fingerprint(),
        "repeat": args.repeat,
    }
    print(f"openweight-sim benchmarks — {meta['machine']}; load average {meta['load_start']}")
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    quarters = baseline_quarters()
    sizes = QUICK_SIZES if args.quick else SIZES

    rows, pop = bench_population(sizes, args.repeat)
    naive_rows, naive = bench_naive(NAIVE_SIZES, args.repeat, quarters, pop)
    rows += naive_rows
    cli_rows, cli_times = bench_cli_run(1 if args.quick else args.repeat)
    rows += cli_rows
    sweeps: list[dict] = []
    if not args.no_sweep:
        sweep_rows, sweeps = bench_sweeps(args.quick)
        rows += sweep_rows
    if args.profile:
        profile_100k(out)
    meta["load_end"] = load_average()
    if source_fingerprint() != meta["source"]:
        meta["source"] += " (CHANGED during the run: figures mix two versions; rerun)"
        print("warning: the package's source changed during the run; rerun the benchmarks")
    meta["elapsed"] = time.perf_counter() - started

    import pandas as pd

    table = pd.DataFrame(rows, columns=COLUMNS)
    for col in ("developers", "quarters", "workers", "runs"):
        table[col] = table[col].astype("Int64")
    table.to_csv(out / "benchmarks.csv", index=False)
    tgt = targets(pop, naive, cli_times, sweeps)
    text = write_markdown(out / "benchmarks.md", rows, pop, naive, sweeps, tgt, meta)
    plot(out / "time_vs_population.png", pop, naive)
    print()
    print(text)
    print(
        f"wrote {out / 'benchmarks.csv'}, {out / 'benchmarks.md'}, {out / 'time_vs_population.png'}"
    )
    return 0


if __name__ == "__main__":
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    sys.exit(main())
