"""The ABC-SMC core: a known answer, executor independence, resume, priors, variance split."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from openweight_sim.posterior.calibrate import shrinkage_table, weighted_quantile
from openweight_sim.posterior.known import GaussianMean, absolute_distance
from openweight_sim.posterior.predictive import decompose, draw_parameters
from openweight_sim.posterior.priors import Prior, calibration_priors
from openweight_sim.posterior.smc import AbcSettings, effective_sample_size, run_abc

PROBLEM = GaussianMean(prior_mean=5.0, prior_sd=1.0, noise_sd=1.0, observed=7.0)


def _run(db, settings, **kw):
    return run_abc(PROBLEM, absolute_distance, PROBLEM.x0, PROBLEM.priors, settings, db, **kw)


@pytest.mark.slow
def test_known_answer_gaussian_mean_with_conjugate_prior(tmp_path):
    """Posterior mean within 0.1 sd and 95% interval endpoints within 10% of the exact ones."""
    settings = AbcSettings(population=1000, generations=7, seed=3)
    result = _run(tmp_path / "h.db", settings)
    p = result.particles
    mean, sd = PROBLEM.exact()
    got = float(np.average(p["theta"], weights=p["weight"]))
    lo, hi = weighted_quantile(p["theta"].to_numpy(), p["weight"].to_numpy(), [0.025, 0.975])
    exact_lo, exact_hi = mean - 1.959964 * sd, mean + 1.959964 * sd
    assert abs(got - mean) < 0.1 * sd, (got, mean, sd)
    assert abs(lo - exact_lo) < 0.1 * abs(exact_lo), (lo, exact_lo)
    assert abs(hi - exact_hi) < 0.1 * abs(exact_hi), (hi, exact_hi)
    # the thresholds fall generation by generation, far below the noise sd at the end
    eps = result.generations["epsilon"].to_numpy()
    assert math.isinf(eps[0]) and np.all(np.diff(eps[1:]) < 0) and eps[-1] < 0.1
    assert result.ess > 200


def test_serial_and_two_processes_give_identical_posterior_samples(tmp_path):
    settings = AbcSettings(population=40, generations=3, seed=11)
    serial = _run(tmp_path / "a.db", settings)
    procs = _run(tmp_path / "b.db", settings, executor="processes", workers=2)
    pd.testing.assert_frame_equal(serial.particles, procs.particles)
    pd.testing.assert_frame_equal(serial.generations, procs.generations)
    assert len(serial.generations) == 3


def test_batch_size_is_part_of_the_result_but_workers_are_not(tmp_path):
    """Another root seed or batch size changes the sample; the same settings reproduce it."""
    a = _run(tmp_path / "a.db", AbcSettings(population=30, generations=2, seed=1))
    b = _run(tmp_path / "b.db", AbcSettings(population=30, generations=2, seed=1))
    c = _run(tmp_path / "c.db", AbcSettings(population=30, generations=2, seed=2))
    pd.testing.assert_frame_equal(a.particles, b.particles)
    assert not a.particles["theta"].equals(c.particles["theta"])


def test_a_stopped_run_resumes_from_its_last_generation_to_the_same_result(tmp_path):
    full = _run(tmp_path / "full.db", AbcSettings(population=40, generations=4, seed=5))
    db = tmp_path / "part.db"
    first = _run(db, AbcSettings(population=40, generations=2, seed=5))
    assert list(first.generations["t"]) == [0, 1]
    resumed = _run(db, AbcSettings(population=40, generations=4, seed=5), resume=True)
    assert resumed.resumed_from == 2
    pd.testing.assert_frame_equal(full.particles, resumed.particles)
    pd.testing.assert_frame_equal(full.generations, resumed.generations)


def test_global_numpy_state_is_restored(tmp_path):
    np.random.seed(123)  # noqa: NPY002 - the legacy global state is what is checked
    expected = np.random.random()  # noqa: NPY002
    np.random.seed(123)  # noqa: NPY002
    _run(tmp_path / "h.db", AbcSettings(population=10, generations=1, seed=0))
    assert np.random.random() == expected  # noqa: NPY002


def test_priors_follow_the_free_parameters_bounds_and_scales():
    from openweight_sim.calibration.fit import FREE_PARAMETERS

    priors = calibration_priors()
    assert [p.name for p in priors] == [p.path for p in FREE_PARAMETERS]
    for prior, param in zip(priors, FREE_PARAMETERS, strict=True):
        assert (prior.low, prior.high) == (param.low, param.high)
        assert prior.kind == ("loguniform" if param.log else "uniform")
        rv = prior.rv()
        lo, hi = (np.log(param.low), np.log(param.high)) if param.log else (param.low, param.high)
        assert rv.pdf(0.5 * (lo + hi)) == pytest.approx(1 / (hi - lo))
        assert rv.pdf(hi + 1e-6) == 0.0


def test_prior_rejects_bad_bounds():
    with pytest.raises(ValueError, match="low > 0"):
        Prior("x", "loguniform", 0.0, 1.0)
    with pytest.raises(ValueError, match="low < high"):
        Prior("x", "uniform", 2.0, 1.0)


def test_shrinkage_is_zero_for_the_prior_and_near_one_for_a_spike():
    rng = np.random.default_rng(0)
    priors = [Prior("a", "uniform", 0.0, 1.0), Prior("b", "loguniform", 0.1, 10.0)]
    n = 20000
    prior_sample = pd.DataFrame(
        {"a": rng.uniform(0, 1, n), "b": np.exp(rng.uniform(np.log(0.1), np.log(10), n))}
    ).assign(weight=1 / n)
    s = shrinkage_table(prior_sample, priors, {"a": 0.5, "b": 1.0})
    assert np.allclose(s["shrinkage"], 0.0, atol=0.03)
    spike = pd.DataFrame({"a": rng.normal(0.5, 0.01, n), "b": np.exp(rng.normal(0, 0.01, n))})
    s = shrinkage_table(spike.assign(weight=1 / n), priors, {})
    assert np.all(s["shrinkage"] > 0.99)


def test_effective_sample_size():
    assert effective_sample_size(np.ones(50)) == pytest.approx(50)
    assert effective_sample_size(np.array([1.0, 0, 0, 0])) == pytest.approx(1)


def test_draws_follow_the_weights_and_the_seed():
    sample = pd.DataFrame({"x": [1.0, 2.0, 3.0], "weight": [0.0, 0.25, 0.75], "distance": 0})
    draws = draw_parameters(sample, 4000, seed=9)
    xs = np.array([d["x"] for d in draws])
    assert set(xs) <= {2.0, 3.0}
    assert np.mean(xs == 3.0) == pytest.approx(0.75, abs=0.03)
    assert draw_parameters(sample, 50, 9) == draw_parameters(sample, 50, 9)
    assert list(draws[0]) == ["x"]


def test_variance_split_follows_the_law_of_total_variance():
    rng = np.random.default_rng(1)
    draws, reps = 400, 50
    mu = rng.normal(0.0, 2.0, draws)  # between-draw variance 4
    y = mu[:, None] + rng.normal(0.0, 1.0, (draws, reps))  # within-draw variance 1
    df = pd.DataFrame({"draw": np.repeat(np.arange(draws), reps), "value": y.ravel()})
    out = decompose(df)
    assert out["var_within"] == pytest.approx(1.0, rel=0.05)
    assert out["var_between"] == pytest.approx(4.0, rel=0.2)
    assert out["share_parameters"] == pytest.approx(0.8, abs=0.04)
    assert out["lo"] < out["param_lo"] < out["param_hi"] < out["hi"]
    # no parameter effect: the share is near 0; no noise: exactly 1
    same = df.assign(value=rng.normal(0.0, 1.0, len(df)))
    assert decompose(same)["share_parameters"] < 0.05
    quiet = df.assign(value=np.repeat(mu, reps))
    assert decompose(quiet)["share_parameters"] == 1.0


def test_paired_hit_difference_is_the_per_seed_mean_with_its_standard_error():
    from openweight_sim.posterior.calibrate import paired_hit_difference

    facts = pd.DataFrame({"low": [0.0, 0.0], "high": [1.0, 1.0]})
    # fact 0: the point hits every run, the posterior misses runs 0 and 1 of 4
    # fact 1: both hit exactly the same runs (difference 0, standard error 0)
    post = np.array([[2.0, 0.5], [2.0, 2.0], [0.5, 0.5], [0.5, 2.0]])
    point = np.array([[0.5, 0.5], [0.5, 2.0], [0.5, 0.5], [0.5, 2.0]])
    diff, se = paired_hit_difference(facts, post, point)
    np.testing.assert_allclose(diff, [-0.5, 0.0])
    d0 = np.array([-1.0, -1.0, 0.0, 0.0])
    np.testing.assert_allclose(se, [d0.std(ddof=1) / 2.0, 0.0])


def test_with_common_seeds_the_seed_effect_is_not_taken_for_draw_noise():
    """y = a_d + s_r: the seeds' effect is shared by every draw, so var(a) is all between."""
    rng = np.random.default_rng(4)
    draws, reps = 6, 5
    a, s = rng.normal(0, 1, draws), rng.normal(0, 3, reps)
    y = a[:, None] + s[None, :]
    df = pd.DataFrame(
        {
            "draw": np.repeat(np.arange(draws), reps),
            "replication": np.tile(np.arange(reps), draws),
            "value": y.ravel(),
        }
    )
    out = decompose(df)
    assert out["var_between"] == pytest.approx(a.var(ddof=1), rel=1e-9)
    assert out["var_within"] == pytest.approx(s.var(ddof=1), rel=1e-9)
    # without the replication index the shared seed effect is (wrongly) subtracted
    one_way = decompose(df[["draw", "value"]])
    assert one_way["var_between"] == pytest.approx(max(a.var(ddof=1) - s.var(ddof=1) / reps, 0))


def test_decomposition_lines_show_levels_in_the_columns_display_unit():
    from openweight_sim.posterior.predictive import DECOMPOSITION_COLUMNS, format_decomposition

    row = dict.fromkeys(DECOMPOSITION_COLUMNS, 1.0)
    table = pd.DataFrame(
        [
            {**row, "column": "meta_net_payoff", "quarter": "2027Q4", "kind": "level",
             "mean": -1.5e9, "lo": -2e9, "hi": -1e9, "param_lo": -1.8e9, "param_hi": -1.2e9},
            {**row, "column": "price_closed", "quarter": "2027Q4", "kind": "ratio", "mean": 1.7},
        ]
    )  # fmt: skip
    lines = format_decomposition(table).splitlines()
    meta = "Meta net payoff (level) 2027Q4: -1.5 USD bn/q (95% predictive -2–-1;"
    assert lines[0].startswith(meta)
    assert lines[1].startswith("Closed API price (A/B) 2027Q4: 1.7 (95% predictive")
