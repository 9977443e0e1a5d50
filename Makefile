# Wuchang enforcement exchange hub — the two commands (make run, make test) and friends.
# Everything a fresh machine needs is installed from here: the virtualenv from PyPI,
# Apache Kafka from Maven Central (deploy/kafka/kafka.sh fetch).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HUB := $(VENV)/bin/hub
KAFKA := deploy/kafka/kafka.sh
WORKBENCH := hub/workbench
WORKBENCH_SOURCES := $(WORKBENCH)/package.json $(WORKBENCH)/package-lock.json $(WORKBENCH)/index.html \
  $(WORKBENCH)/vite.config.ts $(WORKBENCH)/tsconfig.json $(shell find $(WORKBENCH)/src -type f 2>/dev/null)
TEST_KAFKA_PORT ?= 29092

.PHONY: help system install workbench kafka run test unit check bench faults clean kafka-stop

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need Python 3.11+ as $(PYTHON)"; exit 1; }
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	@# setuptools warns on every editable install that local folders shadow packages: they are the package
	PYTHONWARNINGS='ignore:Editable installation:UserWarning' $(VENV)/bin/pip install --quiet -e '.[dev]'
	@touch $@

# The workbench (/app/) is built with the machine's Node.js and npm; nothing built is committed.
$(WORKBENCH)/dist/.built: $(WORKBENCH_SOURCES)
	@command -v npm >/dev/null || { echo "the workbench needs Node.js 20.19+ and npm (https://nodejs.org or your distribution)"; exit 1; }
	cd $(WORKBENCH) && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build
	@touch $@

workbench: $(WORKBENCH)/dist/.built  ## build the web workbench (hub/workbench → dist/, served at /app/)

install: $(VENV)/.installed workbench  ## create .venv, install the hub with its dev tools, build the workbench

system:  ## the Debian packages beyond Python (Java, Maven, chromium, a Chinese font); apt-get as root
	@deploy/system-packages.sh

kafka:  ## fetch Apache Kafka jars from Maven Central (once; cached in deploy/kafka/.cache)
	@$(KAFKA) fetch

run: system install kafka  ## start local Kafka, apply topics, run a worker in the foreground (Ctrl-C stops all)
	@exec env PYTHON=$(PY) deploy/run.sh  # exec: Ctrl-C reaches run.sh, which stops all cleanly

test: system install kafka  ## schema check, the workbench's component tests, then every test on a broker the suite starts and stops
	@$(HUB) schemas check
	cd $(WORKBENCH) && npm test --silent
	@PY=$(PY) HUB_TEST_KAFKA_PORT=$(TEST_KAFKA_PORT) tests/run.sh $(PYTEST_ARGS)

unit: install  ## the tests that need no broker
	$(PY) -m pytest -m "not kafka and not cluster" $(PYTEST_ARGS)

check: install  ## ruff, and mypy strict on hub/ and connectors/
	$(VENV)/bin/ruff check hub connectors tests deploy
	$(VENV)/bin/mypy
	$(HUB) schemas check

bench: system install kafka  ## benchmarks: Kafka's ceiling, raw client loops, the hub, shared data at a million entities (bench/results/)
	$(PY) -m tests.bench.suite $(BENCH_ARGS)
	$(PY) -m tests.bench.bench_shared $(SHARED_BENCH_ARGS)

faults: system install kafka  ## the fault suite, full profile, three runs (faults/results/latest.md)
	$(PY) -m tests.faults.suite $(FAULTS_ARGS)

kafka-stop:  ## stop a broker left running by make run
	@$(KAFKA) stop

clean:  ## remove the virtualenv, caches and local broker data (keeps the jar cache)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis deploy/kafka/.data .hub \
	  $(WORKBENCH)/node_modules $(WORKBENCH)/dist
