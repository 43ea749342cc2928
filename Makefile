# The two commands: `make reproduce` and `make test`. Both set up .venv on a fresh machine first.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROFILE ?= toy
# pip on some machines prints a warning per unreachable extra index; keep real errors, drop that noise
PIPQUIET := grep -v "is ignored: it is neither a file nor a directory" || true

.PHONY: help setup reproduce test sync nbtest pytest bench clean

help:
	@echo "make reproduce   regenerate every figure and table of the '$(PROFILE)' profile into figures/$(PROFILE)/"
	@echo "make test        check patchsae/ is in sync with nbs/, run nbdev_test and pytest"
	@echo "make setup       create $(VENV) and install the package with its dev extras"
	@echo "make bench       time the SAE training step and the statistics pass (BENCHMARKS.md)"

$(STAMP): settings.ini setup.py pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing patchsae into $(VENV) (the first time downloads torch, a few GB)"
	@$(BIN)/python -m pip install -q --upgrade pip 2>&1 | $(PIPQUIET)
	@$(BIN)/python -m pip install -q -e ".[dev]" 2>&1 | $(PIPQUIET)
	@$(BIN)/python -c "import patchsae, torch, open_clip, papermill, nbdev"
	@touch $(STAMP)

setup: $(STAMP)

reproduce: $(STAMP)
	$(BIN)/patchsae reproduce --profile $(PROFILE)

# The library must be exactly what nbdev_export makes of the notebooks, and the notebooks must be clean.
sync: $(STAMP)
	@snap() { find patchsae nbs -type f \( -name '*.py' -o -name '*.ipynb' \) -not -path '*/.ipynb_checkpoints/*' -print0 | sort -z | xargs -0 sha256sum; }; \
	before=$$(snap); \
	$(BIN)/nbdev_export; $(BIN)/nbdev_clean; \
	after=$$(snap); \
	if [ "$$before" != "$$after" ]; then \
	  echo "ERROR: patchsae/ or nbs/ changed under nbdev_export/nbdev_clean, so they were out of sync:"; \
	  diff <(echo "$$before") <(echo "$$after") || true; \
	  echo "Fix: run '$(BIN)/nbdev_export && $(BIN)/nbdev_clean', review the diff and commit it."; \
	  exit 1; \
	fi; \
	echo "patchsae/ is in sync with nbs/"

nbtest: $(STAMP)
	$(BIN)/nbdev_test --n_workers 2 --timing

pytest: $(STAMP)
	$(BIN)/pytest -q tests

test: sync nbtest pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_sae_step.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/bench_statistics.py $(BENCH_ARGS)

clean:
	rm -rf runs _proc _docs .pytest_cache
