# One entry point for set-up, the demo and the tests.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
TORCH  ?= torch==2.13.0
DATA   ?= $(abspath ../shared/data)

.PHONY: venv demo test test-slow bench bench-long bench-networks bench-uses clean sample

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

# benchmarks/run_all.py: acceptance.py, bench_speed.py --epochs 10 --repeats 3,
# bench_vae.py --epochs 10 --repeats 3, probabilistic.py latents --epochs 10,
# bench_conv_speed.py --epochs 3 --repeats 6 --limit 20000 (about 1.5 hours on 2 CPU cores; timings: run it alone)
bench: venv
	AEKIT_DATA_DIR=$${AEKIT_DATA_DIR:-$(DATA)} $(PY) benchmarks/run_all.py

# the long runs BENCHMARKS.md quotes, one torch thread each as they were measured
# (VAE NLL ~31 min, semi-supervised ~55 min: about 1.5 hours on 2 CPU cores)
bench-long: venv
	export AEKIT_DATA_DIR=$${AEKIT_DATA_DIR:-$(DATA)} OMP_NUM_THREADS=1; \
	$(PY) benchmarks/probabilistic.py nll --epochs 100 --k 5000 && \
	$(PY) benchmarks/probabilistic.py semi --models cvae --seeds 0,1 --epochs 3 && \
	$(PY) benchmarks/probabilistic.py semi --models cvae --seeds 0,1 --epochs 8 && \
	$(PY) benchmarks/probabilistic.py semi --models m1m2 --seeds 0,1,2 --epochs 8 && \
	$(PY) benchmarks/probabilistic.py semi --models aae-semi --seeds 0,1 --epochs 8 && \
	$(PY) benchmarks/probabilistic.py semi --models aae-semi --seeds 0,1,2 --epochs 20

# the networks section of BENCHMARKS.md (accuracy figures, one torch thread each; about 1.5 hours)
bench-networks: venv
	export AEKIT_DATA_DIR=$${AEKIT_DATA_DIR:-$(DATA)} OMP_NUM_THREADS=1; \
	$(PY) benchmarks/bench_networks.py --epochs 3 --k 1000 --nll-n 500 && \
	$(PY) benchmarks/bench_networks.py --only ae --codes 8 --epochs 10 && \
	$(PY) benchmarks/bench_networks.py --only ae --codes 8 --epochs 10 --nets conv-fc && \
	$(PY) benchmarks/bench_text.py --variants plain,ar,ar-bi && \
	$(PY) benchmarks/bench_ecg.py

# the uses section of BENCHMARKS.md: one-class MNIST (~15 min), retrieval (~11 min), the Rifai and
# Vincent pretraining tables with three seeds (about 42 and 85 minutes), one torch thread each
bench-uses: venv
	export AEKIT_DATA_DIR=$${AEKIT_DATA_DIR:-$(DATA)} OMP_NUM_THREADS=1; \
	$(PY) benchmarks/bench_oneclass.py && \
	$(PY) benchmarks/bench_retrieval.py && \
	$(PY) benchmarks/bench_pretraining.py --table rifai --seeds 0,1,2 && \
	$(PY) benchmarks/bench_pretraining.py --table vincent --seeds 0,1,2

sample: venv
	$(PY) scripts/make_mnist_sample.py --src $(DATA)/mnist

clean:
	rm -rf $(VENV) runs .pytest_cache
