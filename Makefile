# Two commands: `make run` starts the app, `make test` runs the checks. Both set up .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev
PORT ?= 8501

.PHONY: run test lint bench screenshots clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(RUNTIME_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@ $(RUNTIME_STAMP)

run: $(RUNTIME_STAMP)
	$(PY) -m streamlit run serve.py --server.port $(PORT)

lint: $(DEV_STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test: $(DEV_STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest

bench: $(DEV_STAMP)
	$(PY) -m benchmarks.bench_epoch
	$(PY) -m benchmarks.bench_catalogue
	$(PY) -m benchmarks.bench_logs
	$(PY) -m benchmarks.bench_app
	$(PY) -m benchmarks.bench_class

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
