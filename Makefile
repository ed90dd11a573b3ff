# Two entry points for a fresh machine: `make reproduce` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CORES  ?= 2

.PHONY: setup reproduce test clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned, so that the project's plain range does not pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0

$(VENV)/.installed: $(BIN)/activate pyproject.toml
	$(BIN)/pip install -q -e '.[test]'
	# weaver-core, the field's JetClass reader, checks resim export in the tests. --no-deps: its
	# declared requirements (tensorboard, pandas, pyarrow, tables, awkward0) are never imported by
	# its data loading, which needs only what resim already installs (awkward, uproot, numba, ...).
	$(BIN)/pip install -q --no-deps 'weaver-core>=0.5.3'
	touch $@

setup: $(VENV)/.installed

reproduce: setup
	$(BIN)/snakemake --workflow-profile workflow/profiles/default --cores $(CORES) --configfile config.yaml

test: setup
	$(BIN)/python -m pytest -n $(CORES) --dist loadgroup

clean:
	rm -rf results logs .snakemake
