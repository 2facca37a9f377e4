# Habits. Every target runs inside the project's venv (.venv, made by `make venv`).
PY ?= .venv/bin/python

.PHONY: venv test test-fast lint bench

venv:
	python3.11 -m venv .venv && .venv/bin/pip install -e ".[test,lab]"

test:        ## the whole suite, as CI runs it
	$(PY) -m pytest -n 2

test-fast:   ## without notebooks, batches and browsers
	$(PY) -m pytest -n 2 -m "not slow"

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

bench:       ## every benchmark at its default size (minutes; ratios against the peers of the same run)
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done
