# One entry point for set-up, the demo and the tests.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
TORCH  ?= torch==2.13.0
DATA   ?= $(abspath ../shared/data)

.PHONY: venv demo test test-slow bench clean sample

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch pinned first: an unpinned torch pulls a CUDA build of several GB
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(VENV)/bin/aekit train --out runs/demo
	@echo "open runs/demo/report.html"

test: venv
	AEKIT_DATA_DIR=$${AEKIT_DATA_DIR:-$(DATA)} $(PY) -m pytest -q

test-slow: venv
	AEKIT_DATA_DIR=$${AEKIT_DATA_DIR:-$(DATA)} $(PY) -m pytest -q -m slow

bench: venv
	AEKIT_DATA_DIR=$${AEKIT_DATA_DIR:-$(DATA)} $(PY) benchmarks/run_all.py

sample: venv
	$(PY) scripts/make_mnist_sample.py --src $(DATA)/mnist

clean:
	rm -rf $(VENV) runs .pytest_cache
