# Two commands do everything on a fresh clone: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint bench dashboard dashboard-screenshot notebook clean venv posterior

venv: $(STAMP)

$(STAMP): pyproject.toml
	@PYBIN=$$(sh scripts/find-python.sh) || exit 1; \
	 if [ ! -x $(PY) ]; then echo "creating $(VENV) with $$PYBIN"; "$$PYBIN" -m venv $(VENV) || exit 1; fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/openweight-sim run baseline --out results/baseline

LINT_DIRS := $(wildcard src tests benchmarks notebooks)
NOTEBOOKS := $(wildcard notebooks/*.ipynb)

lint: $(STAMP)
	$(VENV)/bin/ruff check $(LINT_DIRS)
	$(VENV)/bin/ruff format --check $(filter-out notebooks,$(LINT_DIRS))

test: $(STAMP) lint
	$(VENV)/bin/python -m pytest --nbmake tests $(NOTEBOOKS)

# The quick loop while editing: lint and the tests on two workers, without the notebooks, the
# browser test and the tests marked slow (process pools, Dask, kill-and-resume, Solara sessions,
# command-line subprocess suites).
test-fast: $(STAMP) lint
	$(VENV)/bin/python -m pytest -q -n 2 -m "not browser and not slow" tests

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/run_benchmarks.py --out benchmarks/results

# Full-size ABC-SMC posterior (~0.5-1 h on 2 cores; resumable), bundled as data/posterior/baseline,
# with the verdict and Meta's value over it; the figures go to
# docs/calibration.md's posterior section.
posterior: $(STAMP)
	$(PY) scripts/posterior_acceptance.py

# JupyterLab on the notebooks, with the project's environment as the kernel (the `notebook`
# extra is installed into .venv the first time).
NOTEBOOK_STAMP := $(VENV)/.notebook-installed
$(NOTEBOOK_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,notebook]'
	@touch $(NOTEBOOK_STAMP)

notebook: $(NOTEBOOK_STAMP)
	$(VENV)/bin/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) notebooks/

dashboard: $(STAMP)
	$(VENV)/bin/openweight-sim dashboard

# Regenerate docs/dashboard.png (needs Debian's chromium: apt-get install -y chromium).
dashboard-screenshot: $(STAMP)
	$(PY) scripts/dashboard_screenshot.py --out docs/dashboard.png

clean:
	rm -rf $(VENV) results .pytest_cache
