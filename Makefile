# bayesrf — every target creates/reuses .venv with Python 3.12 by itself.
PYTHON ?= $(shell command -v python3.12 || pyenv which python3.12 2>/dev/null || echo python3.12)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# one BLAS thread per process: measured 5x faster for NUTS chains, and the ML fits do not lose
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1
export MPLBACKEND ?= Agg

BENCH_VENV := .venv-bench
.PHONY: help demo test bench peers notebooks clean

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)  ## fit the bundled neuron; write figures/ and results/
	$(BIN)/python -m bayesrf.demo

# two pytest workers, one test file each at a time, longest files first (tests/conftest.py): the suite is mostly
# single-threaded nutpie/numba compilation (measured on 2 cores: 48 min in one process, 26 min in two);
# TEST_WORKERS=0 runs it in one process; the 30 slowest tests are printed at the end (where the 30-minute CI budget goes)
TEST_WORKERS ?= 2
test: $(STAMP)  ## run the whole test suite (CI runs exactly this)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=30

# each benchmark rewrites its docs/<name>.json and some run for hours (see its docstring), so one runs only when named
bench: $(STAMP)  ## list benchmarks/; B=<name> (e.g. B=scaling) runs bench_<name>.py with BENCH_ARGS
	@if [ -z "$(B)" ]; then $(BIN)/python -c 'import ast, pathlib; [print(f"  make bench B={p.stem[6:]:<22}", \
	ast.get_docstring(ast.parse(p.read_text())).splitlines()[0]) for p in sorted(pathlib.Path("benchmarks").glob("bench_*.py"))]'; \
	else $(BIN)/python benchmarks/bench_$(B).py $(BENCH_ARGS); fi

$(BENCH_VENV)/.installed: pyproject.toml  # the peer packages live in their own venv, never in .venv
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -e ".[bench]"
	touch $@

peers: $(BENCH_VENV)/.installed  ## accuracy vs RFEst, glum, sklearn, nemos (full protocol: hours; PEERS_ARGS=... to cut)
	$(BENCH_VENV)/bin/python benchmarks/peers.py $(PEERS_ARGS)

notebooks: $(STAMP)  ## re-run notebooks/ with full draws, keeping their outputs
	cd notebooks && for f in *.ipynb; do env -u MPLBACKEND ../$(BIN)/jupyter-execute --inplace $$f || exit 1; done

clean:  ## remove the virtual environment and outputs
	rm -rf $(VENV) $(BENCH_VENV) figures results
