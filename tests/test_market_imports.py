"""``import openweight_sim.market`` loads the economics only: neither Mesa nor pydantic.

The package ``openweight_sim`` imports its public names lazily (PEP 562), so the pure
economics can be used (and imported quickly) without the agent-based framework.
"""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("mesa", "pydantic")


def _run(code: str, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *flags, "-c", code], capture_output=True, text=True, timeout=120
    )


def test_importtime_shows_no_mesa_and_no_pydantic() -> None:
    done = _run("import openweight_sim.market", "-X", "importtime")
    assert done.returncode == 0, done.stderr
    imported = {
        line.split("|")[-1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "openweight_sim.market" in imported  # the listing is real
    for heavy in HEAVY:
        assert not {m for m in imported if m == heavy or m.startswith(heavy + ".")}, heavy
    # numba and scipy.optimize load on the first solve, not on import
    assert "numba" not in imported and "scipy.optimize" not in imported


def test_sys_modules_after_import_has_no_mesa_and_no_pydantic() -> None:
    code = (
        "import sys, openweight_sim.market as m\n"
        "m.nash_prices([1.0, 2.0], [0.5, 0.5], 1.5)\n"
        "print(sorted(k for k in sys.modules if k.split('.')[0] in ('mesa', 'pydantic')))\n"
        "print('openweight_sim.model' in sys.modules, 'openweight_sim.scenario' in sys.modules)"
    )
    done = _run(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", "False False"]


def test_public_names_still_resolve_lazily() -> None:
    code = (
        "import sys, openweight_sim as o\n"
        "assert 'mesa' not in sys.modules\n"
        "assert set(o.__all__) <= set(dir(o))\n"
        "from openweight_sim import OpenWeightMarket, Scenario, ScenarioError, load_scenario\n"
        "import openweight_sim.model, openweight_sim.scenario\n"
        "assert OpenWeightMarket is openweight_sim.model.OpenWeightMarket\n"
        "assert load_scenario is openweight_sim.scenario.load_scenario\n"
        "assert issubclass(ScenarioError, Exception) and Scenario.__name__ == 'Scenario'\n"
        "try:\n"
        "    o.no_such_name\n"
        "except AttributeError as e:\n"
        "    print(e)\n"
    )
    done = _run(code)
    assert done.returncode == 0, done.stderr
    assert "no attribute 'no_such_name'" in done.stdout
