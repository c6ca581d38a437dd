# Two commands on a fresh machine: `make demo` and `make test`. Everything else is set up on the way.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS := dev,mocap,face,diffusion
# never reach a model hub: every model is local
export HF_HUB_OFFLINE := 1

.PHONY: demo test test-unit test-integration bench bench-transport bench-pipeline doctor serve clean

# (Re)install when the dependency pins or the project metadata change.
$(STAMP): pyproject.toml requirements/constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is needed (found $$($(PYTHON) --version))"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip==25.3"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements/constraints.txt -e '.[$(EXTRAS)]'
	@touch $@

demo: $(STAMP)
	$(BIN)/machinima-bridge demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -rs

test-unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

test-integration: $(STAMP)
	$(BIN)/python -m pytest -q tests/integration

bench: bench-transport bench-pipeline

bench-transport: $(STAMP)
	$(BIN)/python benchmarks/bench_transport.py

bench-pipeline: $(STAMP)
	$(BIN)/python benchmarks/bench_pipeline.py

doctor: $(STAMP)
	$(BIN)/machinima-bridge doctor

serve: $(STAMP)
	$(BIN)/machinima-bridge serve

clean:
	rm -rf $(VENV) demo_out .pytest_cache build *.egg-info
