# EvoLab: `make run` starts everything on this machine; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --quiet --disable-pip-version-check
export PIP_PROGRESS_BAR := off

.PHONY: run test test-unit lint format install install-dev services bench bench-gpu chaos chaos-x10 chaos-soak fidelity clean

$(VENV)/.installed: requirements.txt .ci/cli-wrapper .ci/pip-install
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	bash .ci/pip-install $(PY) requirements.txt || true
	$(PY) -c "import django, torch, torchvision, celery, channels"  # fail loudly if the install broke
	bash .ci/cli-wrapper $(VENV)  # the `evolab` command on .venv/bin, running this checkout
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	bash .ci/pip-install $(PY) requirements-dev.txt || true
	$(PY) -c "import pytest, playwright, hypothesis"
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(PY) -m evolab.launch

# Real PostgreSQL and Redis on 127.0.0.1 (started if down) and Debian's Chromium.
services:
	bash .ci/services

test: install-dev services
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check evolab workers tests bench
	$(PY) -m pytest -q --durations=25

test-unit: install-dev
	$(PY) -m pytest -q tests/unit

lint: install-dev
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check evolab workers tests bench

format: install-dev
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format evolab workers tests bench

# The product path (web app + Celery workers, runs made and read through the REST API) beside
# the headless runner and two baselines, digits and Fashion-MNIST x 3 seeds, into
# bench/FIDELITY.md (about 5 hours; FIDELITY_ARGS="--quick" for a 7-minute smoke test,
# FIDELITY_ARGS="--stack postgres" after `make services`). Installs Fashion-MNIST if apt can.
fidelity: install-dev
	bash bench/fidelity-datasets
	bench/fidelity $(FIDELITY_ARGS)

# CPU benchmarks, ratios side by side, into bench/RESULTS.md (about 15 minutes).
bench: install-dev services
	bash bench/run

# The GPU rows on a machine with CUDA, into bench/RESULTS-gpu.md (about 8 minutes).
bench-gpu: install-dev
	PY=$(PY) bash bench/run-gpu

# Fault injection on real runs, PostgreSQL + Redis and SQLite + embedded (about 15 minutes).
chaos: install-dev services
	set -o pipefail; $(PY) bench/chaos.py | tee bench/CHAOS_RESULTS.md

# Each fault 10 times, each at a random moment of its run (several hours).
chaos-x10: install-dev services
	set -o pipefail; $(PY) bench/chaos.py --repeat 10 | tee bench/CHAOS_RESULTS.md

# 30 minutes of one run on a private PostgreSQL + Redis with a random fault every 1-3 minutes
# (needs root: a tmpfs for the weights, initdb as postgres); into bench/CHAOS_SOAK_RESULTS.md.
chaos-soak: install-dev services
	$(PY) bench/chaos_soak.py

clean:
	rm -rf $(VENV) var test-artefacts
