"""Results directories: what --out may replace, default names, leftovers, the sweep lock."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from openweight_sim.experiments.store import RunStore
from openweight_sim.outdir import (
    LOCK,
    MARKER,
    DirLock,
    clean_leftovers,
    default_out_dir,
    prepare_out,
    results_kind,
)
from openweight_sim.scenario import ScenarioError

pytestmark = pytest.mark.slow  # command-line sessions in subprocesses: make test only

CLI = [sys.executable, "-m", "openweight_sim.cli"]
SMALL = ["--set", "developers.count=300", "--set", "end=2023Q4"]


def cli(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout)


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under root with its bytes (None for a directory)."""
    return {
        str(p.relative_to(root)): (None if p.is_dir() else p.read_bytes())
        for p in sorted(root.rglob("*"))
    }


def wait_for(predicate, timeout: float = 120.0, step: float = 0.05) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return False


# --------------------------------------------------------------------------- --out rules


def test_out_on_a_directory_of_user_files_refuses_and_leaves_it_byte_identical(tmp_path):
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "thesis.tex").write_text("\\documentclass{article}\n")
    (docs / "sub" / "data.bin").write_bytes(os.urandom(2048))
    (docs / ".hidden").write_text("x")
    before = snapshot(docs)
    for extra in ([], ["--force"]):
        res = cli("run", "baseline", *SMALL, "--out", str(docs), *extra, cwd=tmp_path)
        assert res.returncode == 2
        assert res.stderr.strip().splitlines() == [
            f"error: {docs}: exists and is not an openweight-sim results directory "
            "(a directory of 3 entries); choose another --out"
        ]
        assert snapshot(docs) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs"]


def test_an_empty_directory_of_the_user_is_not_ours_either(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ScenarioError, match=r"not an openweight-sim results directory \(an empty"):
        prepare_out(tmp_path / "empty", "run")


@pytest.mark.parametrize("force", [False, True])
def test_working_directory_home_and_root_are_never_replaced(tmp_path, monkeypatch, force):
    work = tmp_path / "a" / "work"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    for path, why in [
        (".", "is the working directory"),
        (str(work) + "/", "is the working directory"),
        ("..", "contains the working directory"),
        (str(tmp_path / "a"), "contains the working directory"),
        ("~", "is the home directory"),
        (str(tmp_path / "home"), "is the home directory"),
        ("/", "is a filesystem root"),
    ]:
        with pytest.raises(ScenarioError, match=why):
            prepare_out(path, "run", force)


def test_symlink_is_refused(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(ScenarioError, match="symbolic link"):
        prepare_out(tmp_path / "link", "run", True)


def test_kinds_and_force(tmp_path):
    d = tmp_path / "r"
    d.mkdir()
    (d / MARKER).write_text(json.dumps({"kind": "run"}))
    assert results_kind(d) == "run"
    assert prepare_out(d, "run") == d  # same kind: replaced (how `make run` re-runs)
    with pytest.raises(ScenarioError, match="holds openweight-sim run results; pass --force"):
        prepare_out(d, "compare")
    assert prepare_out(d, "compare", force=True) == d
    (d / MARKER).write_text(json.dumps({"kind": "sweep"}))
    with pytest.raises(ScenarioError, match="already holds a sweep; pass --resume"):
        prepare_out(d, "sweep")
    assert prepare_out(d, "sweep", resume=True) == d
    assert prepare_out(d, "sweep", force=True) == d
    with pytest.raises(ScenarioError, match="is or contains this command's input"):
        prepare_out(d, "analysis", force=True, inputs=[d])
    with pytest.raises(ScenarioError, match="is or contains this command's input"):
        prepare_out(tmp_path, "analysis", force=True, inputs=[d])
    assert prepare_out(d / "analysis-prim", "analysis", inputs=[d]) == d / "analysis-prim"


def test_a_commands_own_input_is_never_replaced(tmp_path):
    d = tmp_path / "r"
    d.mkdir()
    (d / MARKER).write_text(json.dumps({"kind": "run"}))
    (d / "my.yaml").write_text("extends: baseline\nname: mine\n")
    before = snapshot(d)
    res = cli("run", str(d / "my.yaml"), *SMALL, "--out", str(d), "--force", cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.strip() == (
        f"error: {d}: is or contains this command's input {d / 'my.yaml'}; choose another --out"
    )
    assert snapshot(d) == before


def test_results_written_before_markers_are_still_ours(tmp_path):
    old = tmp_path / "baseline"
    old.mkdir()
    (old / "metadata.json").write_text(json.dumps({"openweight_sim_version": "0.1.0"}))
    (old / "quarters.csv").write_text("quarter\n2023Q1\n")
    assert results_kind(old) == "run"
    (old / "metadata.json").write_text(json.dumps({"mine": 1}))
    assert results_kind(old) is None


def test_default_directories_never_overwrite_the_plain_baseline():
    base = Path("results/baseline")
    assert default_out_dir(base) == base
    a = default_out_dir(base, {"developers.count": 300})
    assert a == default_out_dir(base, {"developers.count": 300})  # deterministic
    assert a != default_out_dir(base, {"developers.count": 301})
    assert a.parent == base.parent and a.name.startswith("baseline-set")
    assert default_out_dir(base, replications=20) == Path("results/baseline-r20")
    assert default_out_dir(base, seed=3) == Path("results/baseline-s3")
    assert default_out_dir(base, {"name": "x"}) == base  # a name override is the base
    long = default_out_dir(Path("results") / ("é" * 64), {"a": 1}, replications=9, seed=99)
    assert len(long.name.encode()) <= 200


def test_run_with_overrides_goes_to_its_own_directory_and_same_kind_is_replaced(tmp_path):
    plain = tmp_path / "results" / "baseline"
    plain.mkdir(parents=True)
    (plain / MARKER).write_text(json.dumps({"kind": "run"}))
    (plain / "sentinel.txt").write_text("the plain baseline's results\n")
    before = snapshot(plain)
    res = cli("run", "baseline", *SMALL, "--replications", "2", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    outs = [p for p in (tmp_path / "results").iterdir() if p.name != "baseline"]
    assert len(outs) == 1
    out = outs[0]
    assert out.name.startswith("baseline-set") and out.name.endswith("-r2")
    assert f"results: results/{out.name}/" in res.stdout
    assert snapshot(plain) == before
    assert results_kind(out) == "run"
    first = (out / "metadata.json").read_bytes()
    res = cli("run", "baseline", *SMALL, "--replications", "2", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (out / "metadata.json").read_bytes() != first  # replaced (a new timestamp)
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["baseline", out.name]
    assert oct((out).stat().st_mode & 0o777) != oct(0o700)


def test_force_replaces_a_results_directory_of_another_kind(tmp_path):
    d = tmp_path / "old"
    d.mkdir()
    (d / MARKER).write_text(json.dumps({"kind": "compare"}))
    (d / "compare.csv").write_text("x\n")
    res = cli("run", "baseline", *SMALL, "--out", str(d), cwd=tmp_path)
    assert res.returncode == 2 and "pass --force" in res.stderr
    assert (d / "compare.csv").is_file()
    res = cli("run", "baseline", *SMALL, "--out", str(d), "--force", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert results_kind(d) == "run" and not (d / "compare.csv").exists()


def test_every_writing_command_has_force():
    from openweight_sim.cli import build_parser
    from openweight_sim.clierrors import _subcommands

    subs = _subcommands(build_parser())
    for command in ("run", "compare", "sweep", "analyze", "validate", "calibrate"):
        assert "--force" in subs[command].format_help(), command


# --------------------------------------------------------------------------- leftovers


def test_leftover_of_a_killed_run_is_removed_by_the_next_run(tmp_path):
    slow = ["--set", "developers.count=5000", "--set", "end=2027Q4"]
    proc = subprocess.Popen(
        [*CLI, "run", "baseline", *slow, "--out", "res/a"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    parent = tmp_path / "res"
    assert wait_for(lambda: parent.is_dir() and any(parent.glob(".a.tmp-*/" + LOCK)))
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    leftovers = list(parent.glob(".a.tmp-*"))
    assert len(leftovers) == 1 and not (parent / "a").exists()
    res = cli("run", "baseline", *SMALL, "--out", "res/b", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in parent.iterdir()) == ["b"]


def test_a_live_runs_temporary_directory_is_never_removed(tmp_path):
    parent = tmp_path / "res"
    live = parent / ".a.tmp-live"
    live.mkdir(parents=True)
    (live / "quarters.csv").write_text("being written\n")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from openweight_sim.outdir import DirLock; "
            f"lock = DirLock.acquire({str(live / LOCK)!r}); print('locked', flush=True); "
            "time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        res = cli("run", "baseline", *SMALL, "--out", "res/b", cwd=tmp_path)
        assert res.returncode == 0, res.stderr
        assert (live / "quarters.csv").read_text() == "being written\n"
        assert clean_leftovers(parent) == []
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert clean_leftovers(parent) == [live]
    assert not live.exists()


def test_interrupted_swap_is_restored(tmp_path):
    """A run killed between its two renames leaves .NAME.old-PID and no NAME: put it back."""
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(dead.stdout)
    old = tmp_path / f".a.old-{pid}"
    old.mkdir()
    (old / MARKER).write_text(json.dumps({"kind": "run"}))
    assert clean_leftovers(tmp_path) == [old]
    assert results_kind(tmp_path / "a") == "run" and not old.exists()


def test_a_user_directory_that_looks_like_a_leftover_is_left_alone(tmp_path):
    mine = tmp_path / ".notes.tmp-2024"
    mine.mkdir()
    (mine / "todo.txt").write_text("keep me\n")
    assert clean_leftovers(tmp_path) == []
    assert (mine / "todo.txt").is_file()


# --------------------------------------------------------------------------- sweep lock


SWEEP = """\
scenario: baseline
name: locked
constants: {developers.count: 4000, end: 2027Q4}
design: {method: lhs, samples: 40, seed: 3}
parameters:
  developers.price_sensitivity: [0.9, 1.2]
replications: 1
outputs: [price_closed@2024Q4]
"""


def test_second_session_on_a_sweep_refuses_instead_of_computing_runs_twice(tmp_path):
    (tmp_path / "s.yaml").write_text(SWEEP)
    out = tmp_path / "sw"
    first = subprocess.Popen(
        [*CLI, "sweep", "s.yaml", "--out", "sw", "--no-progress"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_for(lambda: RunStore(out).count() >= 1)
        second = cli("sweep", "s.yaml", "--out", "sw", "--resume", "--no-progress", cwd=tmp_path)
        assert first.poll() is None, "the first session ended too soon for this test"
        assert second.returncode == 2
        assert second.stderr.strip().splitlines() == [
            f"error: sw: is being written by another sweep session (pid {first.pid}); "
            "wait for it to finish"
        ]
        stdout, stderr = first.communicate(timeout=600)
    finally:
        first.kill()
    assert first.returncode == 0, stderr
    assert "this session ran 40 " in stdout
    third = cli("sweep", "s.yaml", "--out", "sw", "--resume", "--no-progress", cwd=tmp_path)
    assert third.returncode == 0, third.stderr
    assert "this session ran 0 " in third.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["runs"] for s in manifest["sessions"]] == [40, 0]


def test_lock_is_exclusive_within_one_process_too(tmp_path):
    store = RunStore(tmp_path / "sw")
    with (
        store.lock(),
        pytest.raises(ScenarioError, match="another sweep session"),
        store.lock(),
    ):
        pass
    assert not (tmp_path / "sw").exists()  # nothing was written: nothing is left
    lock = DirLock.acquire(tmp_path / "f.lock")
    assert lock is not None
    lock.release()


def test_sweep_force_replaces_a_sweep(tmp_path):
    small = SWEEP.replace("samples: 40", "samples: 2").replace(
        "4000, end: 2027Q4", "300, end: 2024Q4"
    )
    (tmp_path / "s.yaml").write_text(small)
    assert cli("sweep", "s.yaml", "--out", "sw", "--no-progress", cwd=tmp_path).returncode == 0
    (tmp_path / "sw" / "analysis-x").mkdir()
    res = cli("sweep", "s.yaml", "--out", "sw", "--no-progress", "--force", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert not (tmp_path / "sw" / "analysis-x").exists()
    manifest = json.loads((tmp_path / "sw" / "manifest.json").read_text())
    assert len(manifest["sessions"]) == 1
    assert results_kind(tmp_path / "sw") == "sweep"


def test_a_scenario_file_without_a_name_never_replaces_the_plain_baseline(tmp_path):
    (tmp_path / "mine.yaml").write_text(
        "extends: baseline\ndevelopers: {count: 300}\nend: 2023Q2\n"
    )
    (tmp_path / "baseline.yaml").write_text("extends: baseline\nend: 2023Q2\n")
    plain = tmp_path / "results" / "baseline"
    plain.mkdir(parents=True)
    (plain / MARKER).write_text(json.dumps({"kind": "run"}))
    (plain / "quarters.csv").write_text("the plain baseline's results\n")
    first = cli("run", "mine.yaml", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "results: results/baseline-mine/" in first.stdout
    second = cli("run", "baseline.yaml", "--set", "developers.count=300", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "results: results/baseline-file" in second.stdout
    assert (plain / "quarters.csv").read_text() == "the plain baseline's results\n"
