# One command runs the pipeline, one runs the tests; each builds .venv on first use.
#   make run                       whole DAG on the small default configuration
#   make run CONFIG=config/config.yaml CORES=8
#   make test                      the test suite (unit + integration), minus the `slow` tests
#   make test-all                  every test, the `slow` ones too (real Slurm, whole extra DAGs)
#   make repro / restore / report  DVC (dvc.yaml is generated from the Snakefile) and the HTML report
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= config/quick.yaml
CORES ?= all
SMK_ARGS ?=

# Offline copies of the corpus and tokenizer for machines without internet (see README).
# An already-set NLTK_DATA / TIKTOKEN_CACHE_DIR wins; with internet neither is needed.
SHARED_DATA ?= $(abspath ../shared/data)
ifneq ($(wildcard $(SHARED_DATA)/nltk_data),)
export NLTK_DATA ?= $(SHARED_DATA)/nltk_data
endif
ifneq ($(wildcard $(SHARED_DATA)/tiktoken_cache),)
export TIKTOKEN_CACHE_DIR ?= $(SHARED_DATA)/tiktoken_cache
endif
export HF_HUB_OFFLINE ?= 1

# Python's bytecode cache, under .venv/ (not in the source tree), also where the environment
# sets PYTHONDONTWRITEBYTECODE: the venv is installed --no-compile, so without it every job
# compiles torch, transformers and snakemake from source again (measured on 2 cores:
# `import transformer_lens` 15-21 s instead of 4-8 s, `snakemake --version` 3.6 s instead of 1.7 s).
unexport PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX ?= $(abspath $(VENV))/pycache

.PHONY: venv run dry-run test test-all test-unit lint bench report clean dvc-sync repro restore
venv: $(STAMP)

# torch is installed first and alone: a torch pulled in as somebody's dependency
# would be the multi-GB CUDA build.
# --no-compile: no .pyc for the ~20,000 installed modules up front (a minute on two cores);
# Python writes one (under PYTHONPYCACHEPREFIX, above) for each module when it is first
# imported, i.e. only for what is used.
PIP_INSTALL := $(BIN)/pip install -q --no-compile --disable-pip-version-check
$(STAMP): requirements.txt requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) "$$(grep -E '^torch==' requirements.txt)"
	$(PIP_INSTALL) -r requirements.txt -c requirements.lock
	$(PIP_INSTALL) --no-deps -e .
	touch $(STAMP)

# After the run, its products are recorded in dvc.lock (when dvc.yaml is for $(CONFIG)),
# so that `dvc repro` and `dvc status` agree with Snakemake that nothing needs rerunning.
# A failure to record is reported but does not fail the run ("-").
# The jobs run in prewarmed processes (phrenology prewarm: torch, TransformerLens & co. imported
# once, not once per job; the same outputs; docs/performance.md). PREWARM=0: each job in a
# process of its own, e.g. to measure jobs' memory in their benchmark files.
PREWARM ?= 1
PREWARM_CMD := $(if $(filter 1,$(PREWARM)),$(BIN)/phrenology prewarm --)
run: $(STAMP)
	$(PREWARM_CMD) $(BIN)/snakemake --cores $(CORES) --configfile $(CONFIG) $(SMK_ARGS)
	-$(BIN)/phrenology dvc record --configfile $(CONFIG)

dry-run: $(STAMP)
	$(BIN)/snakemake -n --configfile $(CONFIG) $(SMK_ARGS)

# The suite runs on every logical CPU (pytest-xdist), a test module per worker at a time: the
# shared quick and family DAG runs go out first, each made once for all workers, and the other
# tests fill the CPU time those runs leave idle (tests/xdist_groups.py). TEST_WORKERS=0 runs the
# suite in one process.
TEST_WORKERS ?= logical
XDIST := -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder

# `slow` tests each run a DAG of their own (a second quick run from scratch, real Slurm,
# DVC re-runs, kill -9 and resume, a pretrained family) or take minutes: see docs/development.md.
test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" $(XDIST) $(PYTEST_ARGS)

test-all: $(STAMP)
	$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

test-unit: $(STAMP)
	$(BIN)/python -m pytest -m "not integration and not slurm and not slow" $(PYTEST_ARGS)

# Python (ruff), the Snakefile and rules (snakefmt), and Snakemake's own checks for both configs.
lint: $(STAMP)
	$(BIN)/ruff check src tests workflow benchmarks
	$(BIN)/ruff format --check src tests workflow benchmarks
	$(BIN)/snakefmt --check Snakefile rules
	$(BIN)/snakemake --lint --configfile config/quick.yaml
	$(BIN)/snakemake --lint --configfile config/config.yaml

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

# DVC (README "Versioning with DVC"). dvc.yaml is generated from the Snakemake DAG of
# $(CONFIG); its stages call `snakemake`, so the venv's bin/ goes first on PATH.
dvc-sync: $(STAMP)
	$(BIN)/phrenology dvc sync --configfile $(CONFIG)

# dvc.yaml regenerated, dvc repro, then the products stamped so Snakemake agrees (README).
repro: $(STAMP)
	$(BIN)/phrenology dvc repro --configfile $(CONFIG)

# dvc pull, then stamp the products in DAG order so Snakemake reruns nothing.
restore: $(STAMP)
	$(BIN)/phrenology dvc restore --configfile $(CONFIG)

# One HTML file: every figure and Table 1 with its caption and provenance.
report: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --configfile $(CONFIG) $(SMK_ARGS)
	$(BIN)/snakemake --configfile $(CONFIG) --report results/report.html

clean:
	rm -rf results .snakemake logs
