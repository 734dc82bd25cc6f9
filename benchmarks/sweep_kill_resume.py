"""A model sweep at scale on Dask, killed with SIGKILL and resumed: runs, time, files.

Runs ``openweight-sim sweep`` (LHS design, ``--runs`` runs of the baseline at
``--developers`` developers, 2 Dask workers, progress bar on), kills the whole command with
SIGKILL once ``--kill-after`` runs are stored, resumes it with ``--resume``, and reports how
many runs each session computed, the wall time, and how many regular files the sweep
directory holds at the end. Usage::

    .venv/bin/python benchmarks/sweep_kill_resume.py --runs 2000 --developers 2000
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from openweight_sim.experiments.store import RunStore

SWEEP = """\
name: scale
scenario: baseline
constants: {{developers.count: {developers}}}
design: {{method: lhs, samples: {runs}, seed: 1}}
parameters:
  developers.price_sensitivity: [1.1, 1.6]
  labs.meta.release_interval: [2, 4]
replications: 1
outputs: [price_closed@2026Q4, share_open_tokens@2026Q4]
"""


def main() -> None:
    """Run, kill, resume and report (JSON on stdout)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--developers", type=int, default=2000)
    ap.add_argument("--kill-after", type=int, default=500)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    cli = [sys.executable, "-m", "openweight_sim.cli", "sweep"]
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "scale.yaml"
        spec.write_text(SWEEP.format(developers=args.developers, runs=args.runs))
        out = Path(tmp) / "sweep"
        cmd = [*cli, str(spec), "--executor", "dask", "--workers", str(args.workers)]
        cmd += ["--out", str(out)]
        t0 = time.perf_counter()
        first = subprocess.Popen(cmd, stderr=subprocess.PIPE, start_new_session=True)
        while first.poll() is None and RunStore(out).count() < args.kill_after:
            time.sleep(0.5)
        os.killpg(first.pid, signal.SIGKILL)
        _, err1 = first.communicate()
        t_kill = time.perf_counter() - t0
        stored = RunStore(out).count()
        t1 = time.perf_counter()
        res = subprocess.run([*cmd, "--resume"], capture_output=True, text=True)
        t_resume = time.perf_counter() - t1
        manifest = json.loads((out / "manifest.json").read_text())
        files = [p for p in out.rglob("*") if p.is_file()]
        report = {
            "runs": args.runs,
            "developers": args.developers,
            "workers": args.workers,
            "killed_after_s": round(t_kill, 1),
            "runs_stored_at_kill": stored,
            "progress_bar_shown": "run/s" in err1.decode(errors="replace")
            or "it/s" in err1.decode(errors="replace")
            or "%|" in err1.decode(errors="replace"),
            "resume_exit": res.returncode,
            "resume_s": round(t_resume, 1),
            "sessions": [
                {k: s.get(k) for k in ("runs_before", "runs", "executor", "workers")}
                for s in manifest["sessions"]
            ],
            "status": manifest["status"],
            "distinct_runs_stored": RunStore(out).count(),
            "regular_files": len(files),
            "files": sorted(str(p.relative_to(out)) for p in files),
        }
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
