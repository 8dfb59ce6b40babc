# Chairtime's verbs. The README, CI (.ci/run) and the buildspecs call these.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST := $(VENV)/bin/pytest
RUFF := $(VENV)/bin/ruff

# The databases `make test` runs the suite against (the servers of this machine kind).
TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/chairtime
TEST_MARIADB_URL ?= mysql://root@127.0.0.1:3306/chairtime
PYTEST_ARGS ?=
# pytest-xdist workers for the suites without a browser (auto: one per core).
PYTEST_WORKERS ?= auto
BROWSER_TESTS := chairtime/booking/tests/test_browser.py chairtime/frontdesk/tests/test_browser.py \
  chairtime/frontdesk/tests/test_browser_roles.py chairtime/clients/tests/test_browser.py
IGNORE_BROWSER_TESTS := $(foreach t,$(BROWSER_TESTS),--ignore=$(t))
# The browser tests run in a pytest process of their own (see test_browser.py).
# $(2): --database-tests-only on PostgreSQL and MariaDB, where a test that uses no
# database would only repeat its SQLite run (conftest.py).
define run_suite
	DATABASE_URL=$(1) $(PYTEST) -n $(PYTEST_WORKERS) $(2) $(IGNORE_BROWSER_TESTS) $(PYTEST_ARGS)
	DATABASE_URL=$(1) $(PYTEST) $(BROWSER_TESTS) $(PYTEST_ARGS)
endef

.PHONY: help install run test test-sqlite test-postgres test-mariadb test-quick test-ci ci-database lint format messages lock clean

help:  ## list the verbs
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# uv installs the pinned requirements: seconds where pip takes minutes (six times in
# `make pipeline-local`'s builds). pip installs uv itself, at this version.
UV_VERSION := 0.13.10
UV := $(VENV)/bin/uv

$(VENV)/.installed: requirements/base.txt requirements/dev.txt
	scripts/system-deps build
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(UV) --version 2>/dev/null | grep -qx 'uv $(UV_VERSION)' \
	  || $(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(UV) pip install --quiet --native-tls --python $(PY) -r requirements/base.txt -r requirements/dev.txt
	touch $@

install: $(VENV)/.installed  ## create .venv and install the pinned dependencies

run: install  ## serve the demo salon on http://127.0.0.1:8080 (SQLite + local DynamoDB)
	scripts/run-local

test: install  ## the whole suite: lint, then SQLite, PostgreSQL and MariaDB (with browser tests)
	scripts/system-deps browser
	scripts/k8s-tools
	scripts/ensure-databases
	$(MAKE) lint
	$(MAKE) test-sqlite
	$(MAKE) test-postgres
	$(MAKE) test-mariadb

test-sqlite: install  ## the suite on SQLite
	$(call run_suite,)

test-postgres: install  ## the tests that use the database, on PostgreSQL (TEST_POSTGRES_URL)
	$(call run_suite,$(TEST_POSTGRES_URL),--database-tests-only)

test-mariadb: install  ## the tests that use the database, on MariaDB (TEST_MARIADB_URL)
	$(call run_suite,$(TEST_MARIADB_URL),--database-tests-only)

test-quick: install  ## SQLite only, no browser
	DATABASE_URL= $(PYTEST) -n $(PYTEST_WORKERS) $(IGNORE_BROWSER_TESTS) $(PYTEST_ARGS)

# The pipeline's test stage (deploy/buildspecs/test.yml): PostgreSQL, as production,
# with JUnit and Cobertura reports in test-results/ and a coverage floor. The browser
# tests stay in `make test` (a build container has no Chromium).
COVERAGE_FLOOR ?= 85
test-ci: install  ## the suite on PostgreSQL with JUnit + Cobertura reports in test-results/ and a coverage floor
	scripts/k8s-tools
	mkdir -p test-results
	DATABASE_URL=$(TEST_POSTGRES_URL) $(PYTEST) -n $(PYTEST_WORKERS) $(IGNORE_BROWSER_TESTS) $(PYTEST_ARGS) \
	  --junitxml=test-results/junit-postgres.xml \
	  --cov=chairtime --cov=chairtimectl --cov-report=xml:test-results/coverage.xml \
	  --cov-report=term:skip-covered --cov-fail-under=$(COVERAGE_FLOOR)

ci-database:  ## PostgreSQL on 127.0.0.1:5432, installed and started if missing (the pipeline's test stage)
	scripts/ensure-databases postgres

lint: install  ## ruff, formatting, and no missing migrations
	$(RUFF) check .
	$(RUFF) format --check .
	DEBUG=true $(PY) manage.py makemigrations --check --dry-run

format: install  ## apply ruff's fixes and formatting
	$(RUFF) check --fix .
	$(RUFF) format .

messages: install  ## extract marked strings into the fr/es catalogs and compile them (docs/languages.md)
	scripts/messages

lock:  ## re-pin requirements/*.txt from requirements/*.in
	$(VENV)/bin/pip-compile -q --no-emit-index-url --no-emit-find-links --no-emit-trusted-host --strip-extras --allow-unsafe -o requirements/base.txt requirements/base.in
	$(VENV)/bin/pip-compile -q --no-emit-index-url --no-emit-find-links --no-emit-trusted-host --strip-extras --allow-unsafe -o requirements/dev.txt requirements/dev.in

clean:  ## remove the virtualenv and local data
	rm -rf $(VENV) var staticfiles test-results

# --- Performance (bench/run.py; figures in docs/performance.md) ---------------
.PHONY: bench bench-quick bench-calendar

bench: install  ## measure latency, throughput, bookings and DynamoDB calls on PostgreSQL and MariaDB; write docs/performance.*
	scripts/system-deps bench
	scripts/ensure-databases
	$(PY) -m bench.run

bench-quick: install  ## the same measurements, small and short (CI); writes var/bench/, fails on a broken invariant
	scripts/system-deps bench
	scripts/ensure-databases
	$(PY) -m bench.run --quick

bench-calendar: install  ## the desk calendar's server time and queries for a busy day, per language (docs/frontdesk.md)
	$(PYTEST) -q -s bench/calendar_day.py

# --- Kubernetes manifests (deploy/k8s; docs/kubernetes.md) ---------------------------
.PHONY: k8s-check
k8s-check:  ## render every overlay, validate against Kubernetes 1.36, run checkov (manifests + Dockerfile)
	scripts/k8s-check

# --- Container image (deploy/container; docs/container.md) ---------------------------
.PHONY: image image-test image-codebuild
image: install  ## hadolint, then build the production image with buildah: chairtime:<git sha>[-dirty]
	scripts/image-build

image-codebuild: install  ## the Image stage's install + build inside a privileged container whose root is overlayfs, as CodeBuild runs it (CONTAINER_STORAGE=vfs|overlay|fuse-overlayfs to force a driver)
	scripts/codebuild-image

image-test: install  ## run the last built image read-only against PostgreSQL, Redis and DynamoDB (moto); prove it (IMAGE_TEST_ARGS=--database mariadb)
	$(PY) scripts/image-test $(IMAGE_TEST_ARGS)

# --- Kubernetes end to end (deploy/k8s/e2e; docs/e2e-k8s.md) -------------------------
.PHONY: e2e-k8s e2e-k8s-down
e2e-k8s: install  ## deploy/rollback/diagnose with chairtimectl on a real local Kubernetes 1.20 (after make image)
	scripts/system-deps container k8s-e2e
	scripts/k8s-tools
	$(PY) deploy/k8s/e2e/scenario.py $(E2E_ARGS)

e2e-k8s-down:  ## stop the local Kubernetes cluster (E2E_ARGS=--keep leaves it up)
	deploy/k8s/e2e/cluster.py down

# --- AWS stacks (deploy/aws; docs/aws.md) ---------------------------------------------
.PHONY: aws-check
aws-check:  ## test, synthesize (staging + prod), cfn-lint and checkov the CDK stacks; no AWS account needed
	scripts/aws-check

# --- The pipeline, replayed here (deploy/pipeline-local; docs/pipeline-local.md) ---------
.PHONY: image-publish image-release image-promote kubeconfig pipeline-local
image-publish: install  ## push the last `make image` to ECR (IMAGE_REPOSITORY), wait for its scan, refuse CRITICAL findings
	$(PY) scripts/image-publish

# The Image stage. A retry for the same commit finds the image its first attempt pushed
# (tags are immutable: a rebuild could not be pushed under that tag) and goes on with it.
image-release: install  ## IMAGE_TAG=<tag>: take IMAGE_REPOSITORY:<tag> when ECR has it (scan checked), else `make image image-publish`
	@status=0; $(PY) scripts/image-publish --existing || status=$$?; \
	if [ $$status -eq 3 ]; then $(MAKE) image && $(MAKE) image-publish; else exit $$status; fi

image-promote: install  ## tag IMAGE_REF's image PROMOTE_TAG_PREFIX<tag> in ECR (prod-<commit>: the lifecycle keeps it)
	$(PY) scripts/image-promote

kubeconfig: install  ## write a kubeconfig (KUBECONFIG, default var/kubeconfig) for the EKS cluster CLUSTER_NAME
	$(PY) scripts/kubeconfig

pipeline-local: install  ## replay the pipeline's buildspecs here (moto, a local registry, the local cluster): a release, then a broken one rolled back
	scripts/system-deps container k8s-e2e registry
	scripts/k8s-tools
	$(PY) deploy/pipeline-local/replay.py $(PIPELINE_LOCAL_ARGS)
