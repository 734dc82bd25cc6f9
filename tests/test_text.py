"""Texts that must match the code: README, notebooks, help, sweep comments, intervals."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

from openweight_sim import OpenWeightMarket
from openweight_sim.experiments.compare import compare_frames, diff_interval

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _notebook_text(name: str) -> tuple[str, str]:
    """(markdown, code) of a notebook, each joined over its cells."""
    nb = json.loads((ROOT / "notebooks" / name).read_text(encoding="utf-8"))
    md = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    return md, code


def test_run_until_runs_quarters_as_the_readme_says():
    assert "model.run_until(8)" in README
    small = {"developers.count": 300}
    a = OpenWeightMarket("baseline", rng=5, **small)
    a.run_until(8)
    b = OpenWeightMarket("baseline", rng=5, **small)
    for _ in range(8):
        b.step()
    qa = a.quarters_frame()
    assert list(qa["quarter"]) == a.config.quarters[:8] and qa["quarter"].iloc[-1] == "2024Q4"
    pd.testing.assert_frame_equal(qa, b.quarters_frame())
    a.run_until(1000)  # past the horizon: stops there
    assert not a.running and list(a.quarters_frame()["quarter"]) == a.config.quarters


def test_readme_leads_with_the_cli_and_the_api_and_batch_run_is_a_compatibility_note():
    api = README.index("## Command line and Python API")
    assert api < README.index("## What the outputs mean")
    section = README[api : README.index("## What the outputs mean")]
    for name in ("OpenWeightMarket", "run_replications", "run_until", "| `plot DIR` |"):
        assert name in section, name
    note = README.index("*Compatibility note.*")
    paragraph = README[note : README.index("\n\n", note)]
    assert README.count("batch_run") == paragraph.count("batch_run") > 0  # only in the note
    assert "Mesa 4 removes it" in paragraph


def test_no_fact_count_that_hides_facts_holding_by_construction():
    texts = [README] + [
        "\n".join(_notebook_text(p.name)) for p in sorted((ROOT / "notebooks").glob("*.ipynb"))
    ]
    for text in texts:
        assert not re.search(r"\b\d+ of 36\b", text)
    flat = " ".join(README.split())
    assert "by construction" in flat and "F30–F32" in flat and "F11–F16" in flat


def test_make_notebook_opens_jupyterlab_from_the_project_environment():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert any(d.startswith("jupyterlab") for d in extras["notebook"])
    res = subprocess.run(
        ["make", "-n", "notebook"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "'.[dev,notebook]'" in res.stdout
    assert re.search(r"^\.venv/bin/jupyter lab .*notebooks/$", res.stdout, re.M)
    assert "make notebook" in README


def test_notebook_texts_match_the_code():
    md1, code1 = _notebook_text("01_quickstart.ipynb")
    assert "1.331" not in md1 + code1 and not re.search(r"sensitivity\D{0,20}1\.0\b", md1)
    assert "get_dotted(scenario.model_dump(), path)" in code1  # the baseline value, read
    md4, _ = _notebook_text("04_commoditization_thesis.ipynb")
    assert "Fieller" in md4 and "delta" not in md4.lower()
    for p in sorted((ROOT / "notebooks").glob("*.ipynb")):
        _, code = _notebook_text(p.name)
        hidden = [
            ln for ln in code.splitlines() if ln.startswith("run_plots.") and ln.endswith(";")
        ]
        assert not hidden, f"{p.name}: a run plot (a Figure) ends with ';' and is never shown"


def test_calibrate_help_quotes_no_run_time():
    res = subprocess.run(
        [sys.executable, "-m", "openweight_sim.cli", "calibrate", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    flat = " ".join(res.stdout.split())
    assert "--budget" in flat  # the help was read
    assert not re.search(r"\d\s*(min|minutes|s|seconds)\b", flat)  # a time goes stale


def test_thesis_sweep_comments_cite_no_superseded_values():
    text = (ROOT / "scenarios" / "sweeps" / "thesis_sobol.yaml").read_text()
    comments = " ".join(line.split("#", 1)[1] for line in text.splitlines() if "#" in line)
    assert not re.search(r"baseline\s+\d", comments)
    assert "scenarios/baseline.yaml" in comments


def test_a_shares_difference_interval_stays_within_100_points():
    rng = np.random.default_rng(0)
    n = 3
    qa = pd.DataFrame(
        {
            "quarter": "2027Q4",
            "replication": range(n),
            "share_open_tokens": 1 - np.abs(rng.normal(0, 0.08, n)),
            "price_closed": rng.uniform(1, 3, n),
        }
    )
    qb = qa.assign(share_open_tokens=0.0, price_closed=rng.uniform(1, 3, n))
    table = compare_frames(qa, qb, ["2027Q4"], ["share_open_tokens", "price_closed"])
    share = table[table["column"] == "share_open_tokens"].iloc[0]
    d, lo, hi = diff_interval(qa["share_open_tokens"].to_numpy(), np.zeros(n))
    assert hi > 1  # the plain t interval would claim more than 100 percentage points
    assert share["diff_lo"] == lo and share["diff_hi"] == 1.0 and share["diff"] == d
    price = table[table["column"] == "price_closed"].iloc[0]
    _, plo, phi = diff_interval(qa["price_closed"].to_numpy(), qb["price_closed"].to_numpy())
    assert (price["diff_lo"], price["diff_hi"]) == (plo, phi)  # other columns: not cut
