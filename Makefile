# One command for each job. Every target sets up what it needs first, on a fresh machine too.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
SAM_VENV := .tools/sam
SAM := SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam
CHECKOV_VENV := .tools/checkov
LOCUST_VENV := .tools/locust
MINISTACK_VENV := .tools/ministack
# The local stack's emulator for make run and make chaos: MiniStack by default, installed first;
# EMULATOR=moto for moto's server, which needs nothing more. The end-to-end tests run on MiniStack.
EMULATOR ?= ministack
EMULATOR_SETUP := $(if $(filter moto,$(EMULATOR)),,$(MINISTACK_VENV)/.installed)
NOTIFIER_URL ?= http://127.0.0.1:3000
NOTIFIER_API_KEY ?= local-development-key
REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

# Bytecode: every Python process make starts (the test workers, the local stack's functions, MiniStack,
# the linters) keeps what it compiles in .cache/pycache, outside the sources, where the next one finds
# it. With PYTHONDONTWRITEBYTECODE set, as on this machine, each of them compiled every module it
# imported again: about 45 s of CPU in make test. The build writes its artifacts' bytecode beside their
# modules whatever this says (build/slim_build.py).
unexport PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX := $(CURDIR)/.cache/pycache

# Every environment is made by uv, bootstrapped from PyPI with the pip of $(PYTHON) into .tools/uv at
# exactly this version (pyproject.toml's [tool.uv] required-version says the same).
UV_VERSION := 0.13.9
UV_DIR := .tools/uv
UV := $(UV_DIR)/bin/uv
UV_STAMP := $(UV_DIR)/.installed-$(UV_VERSION)
# uv uses the interpreters installed here, never one it downloads.
export UV_PYTHON_DOWNLOADS := never
# uv reads no pip configuration: give it pip's index when one is set (PIP_INDEX_URL or an index-url
# in a pip.conf; otherwise both use PyPI), and the system's certificates, which pip uses.
PIP_INDEX := $(or $(PIP_INDEX_URL),$(lastword $(shell sed -n 's/^[[:space:]]*index-url[[:space:]]*=[[:space:]]*//p' \
	/etc/pip.conf /etc/xdg/pip/pip.conf $$HOME/.config/pip/pip.conf $$HOME/.pip/pip.conf 2>/dev/null)))
ifneq ($(PIP_INDEX),)
export UV_DEFAULT_INDEX ?= $(PIP_INDEX)
endif
export UV_SYSTEM_CERTS ?= 1

# `sam build` for the python3.13 runtime needs a python3.13 on PATH that runs: one from pyenv's
# versions (a pyenv shim is not enough), or one on PATH.
PY313_DIR := $(shell for d in $$(ls -d $$HOME/.pyenv/versions/3.13*/bin 2>/dev/null | sort -r) \
	"$$(dirname "$$(command -v python3.13 2>/dev/null)" 2>/dev/null)"; do \
	[ -x "$$d/python3.13" ] && "$$d/python3.13" -c "" 2>/dev/null && { echo "$$d"; break; }; done)

# What `make lock` resolves each shipped requirements file for: the template's Lambda runtime.
LAMBDA_PLATFORM := --python-version 3.13 --python-platform aarch64-manylinux_2_28
# ... and the readable copy of the dev group, requirements/dev.txt: this machine's kind.
DEV_PLATFORM := --python-version 3.11 --python-platform x86_64-manylinux_2_28
# Each deployment unit of template.yaml (CodeUri/ContentUri) and its dependency group in pyproject.toml.
SHIPPED := layers/common:layer-common functions/publish:function-publish functions/email:function-email \
	functions/sms:function-sms functions/push:function-push \
	functions/webhooks:function-webhooks functions/inapp:function-inapp \
	functions/socket:function-socket functions/due:function-due

.PHONY: help setup browser run bench load chaos fuzz redrive test unit functional lint lint-ruff lint-mypy lint-cfn \
	lint-sam lint-checkov typecheck openapi build deploy deploy-local deploy-localstack deploy-emulator \
	test-deployed test-deploy start-local stop-local lock clean

help:
	@echo "make run        the whole service on 127.0.0.1 (API :3000, WebSocket :3001, emulator :4566); ARGS='--help' for options;"
	@echo "                its emulator is MiniStack, installed first; EMULATOR=moto for moto's server, about four times slower"
	@echo "make test       set up, lint, and run every test"
	@echo "make browser    Debian's Chromium at /usr/bin/chromium, for the headless-browser tests (make test needs it)"
	@echo "make bench      cold starts, publish CPU, batch delivery, artifact sizes, local stack, cost: a table against the budgets"
	@echo "make load       Locust against NOTIFIER_URL (default: the local stack of make run) with NOTIFIER_API_KEY"
	@echo "make chaos      fault scenarios in the local stack (vendor failures, crashes, timeouts, digests, provider outage): lost and duplicated counts"
	@echo "make fuzz       the API against its published contract, deeper than make test: EXAMPLES=400 per operation, a new SEED each run"
	@echo "make redrive QUEUE=email-critical   move a DLQ's messages back to their queue (ARGS='--endpoint http://127.0.0.1:4566' for make run)"
	@echo "make lint       ruff (with security rules), mypy, cfn-lint (what sam validate --lint runs) and checkov, two at a time"
	@echo "make openapi    write docs/openapi.json, the published contract, from the publish function's routes"
	@echo "make build      sam build, then bytecode and botocore's data trimmed (build/slim_build.py; needs python3.13)"
	@echo "make deploy     make build, then sam deploy with samconfig.toml's default environment (DEPLOY_ARGS for more)"
	@echo "make deploy-local   deploy the template to MiniStack, a free AWS emulator it installs and starts on 127.0.0.1:$(MINISTACK_PORT)"
	@echo "make test-deployed  the deployed-stack tests (tests/deployed) against make deploy-local's stack, or NOTIFIER_STACK's in AWS"
	@echo "make stop-local     stop MiniStack and remove what it kept on disk"
	@echo "make test-deploy    all three from nothing, for CI: a fresh MiniStack, deploy, the deployed tests, stop"
	@echo "make deploy-localstack   the same deploy to a running LocalStack (LOCALSTACK_ENDPOINT, LocalStack's auth token)"
	@echo "make lock       re-lock uv.lock after editing pyproject.toml or requirements/*.in, and write every requirements file"

setup: $(VENV)/.installed $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed

$(UV_STAMP):
	rm -rf $(UV_DIR)
	$(PYTHON) -m venv --without-pip $(UV_DIR)
	$(PYTHON) -m pip --python $(UV_DIR)/bin/python install -qq uv==$(UV_VERSION)
	touch $@

# The development environment: the dev group of uv.lock, exactly (--locked: the lock must match
# pyproject.toml; `make lock` updates it).
$(VENV)/.installed: uv.lock pyproject.toml $(UV_STAMP)
	$(UV) sync --locked --quiet --python $(PYTHON)
	touch $@

# The tools that conflict with dev, each in its own environment from its uv-compiled file.
$(SAM_VENV)/.installed: requirements/sam.txt $(UV_STAMP)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(SAM_VENV)
	$(UV) pip sync --quiet --python $(SAM_VENV)/bin/python requirements/sam.txt
	touch $@

$(CHECKOV_VENV)/.installed: requirements/checkov.txt $(UV_STAMP)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(CHECKOV_VENV)
	$(UV) pip sync --quiet --python $(CHECKOV_VENV)/bin/python requirements/checkov.txt
	touch $@

# Locust shares dev's resolution (the load group of uv.lock) in an environment of its own.
$(LOCUST_VENV)/.installed: uv.lock pyproject.toml $(UV_STAMP)
	UV_PROJECT_ENVIRONMENT=$(LOCUST_VENV) $(UV) sync --locked --quiet --python $(PYTHON) --only-group load
	touch $@

# Debian's Chromium, which tests/e2e/test_inbox_page.py drives with Playwright (it never downloads a
# browser of its own): installed with apt-get when missing and this is root, else what to install is said.
CHROMIUM := /usr/bin/chromium
browser:
	@[ -x $(CHROMIUM) ] && exit 0; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium \
	    && [ -x $(CHROMIUM) ]; \
	else \
	  echo "make browser: $(CHROMIUM) is missing: install Debian's chromium package" \
	    "(sudo apt-get install --no-install-recommends chromium), then run make again" >&2; exit 1; \
	fi

# The docker-free local stack, in the foreground until Ctrl-C. Options: make run ARGS="--help";
# PROFILE=fast starts from samconfig.toml's fast profile (short timeouts and backoff); EMULATOR=moto
# starts moto's server instead of MiniStack.
run: $(VENV)/.installed $(EMULATOR_SETUP)
	$(BIN)/python -m devstack --emulator $(EMULATOR) $(if $(PROFILE),--profile $(PROFILE)) $(ARGS)

# Fault scenarios against the local stack with the fast profile; exits 1 if a notification is lost.
chaos: $(VENV)/.installed $(EMULATOR_SETUP)
	$(BIN)/python -m devstack.chaos --emulator $(EMULATOR) $(ARGS)

# The contract fuzz test of make test (tests/e2e/test_fuzz_openapi.py) run deeper: EXAMPLES per operation
# and phase (30 in make test), a new SEED each run unless one is given; a failure prints the seed and
# each failing request, so that `make fuzz SEED=...` replays the run. 400 examples: about 4 minutes.
EXAMPLES ?= 400
fuzz: $(VENV)/.installed $(MINISTACK_VENV)/.installed
	@seed=$${SEED:-$$(date +%s)}; echo "make fuzz: $(EXAMPLES) examples per operation, seed $$seed"; \
	FUZZ_MAX_EXAMPLES=$(EXAMPLES) FUZZ_SEED=$$seed $(BIN)/pytest -p no:cacheprovider tests/e2e/test_fuzz_openapi.py

# Move a dead-letter queue's messages back to the queue they came from. Options: ARGS="--help".
redrive: $(VENV)/.installed
	@[ -n "$(QUEUE)" ] || { echo "usage: make redrive QUEUE=<email-critical|...|DLQ logical id|URL|ARN> [ARGS='--stack S --region R --endpoint URL --max-per-second N --no-wait']"; exit 2; }
	$(BIN)/python -m ops.redrive "$(QUEUE)" $(ARGS)

# Measurements (not pass/fail tests): each module merges its figures into bench/results.json, then
# bench.report prints them beside their budgets (exit 1 if one fails). About 12 minutes on 2 cores: the
# local stack is measured on MiniStack (local_e2e, with budgets) and on moto's server (local_e2e_moto).
bench: $(VENV)/.installed $(MINISTACK_VENV)/.installed
	rm -f bench/results.json
	PYTHONPATH=layers/common $(BIN)/python -m bench.cold_start
	PYTHONPATH=layers/common $(BIN)/python -m bench.publish_cost
	POWERTOOLS_METRICS_DISABLED=true POWERTOOLS_METRICS_NAMESPACE=bench POWERTOOLS_LOG_LEVEL=WARNING \
	  PYTHONPATH=layers/common $(BIN)/python -m bench.batch_latency
	PYTHONPATH=layers/common $(BIN)/python -m bench.webhook_ingest
	$(BIN)/python -m bench.local_latency --emulator ministack
	$(BIN)/python -m bench.local_latency --emulator moto --clients 4
	$(BIN)/python -m bench.inbox_latency
	$(MAKE) build
	$(BIN)/python -m bench.artifacts --no-build
	$(BIN)/python -m bench.cost
	$(BIN)/python -m bench.report

# Load test of the API with Locust: the local stack of `make run` (in another terminal) by default, or a
# deployed stack: make load NOTIFIER_URL=https://.../prod NOTIFIER_API_KEY=... ARGS="-u 50 -t 5m"
load: $(LOCUST_VENV)/.installed
	NOTIFIER_URL="$(NOTIFIER_URL)" NOTIFIER_API_KEY="$(NOTIFIER_API_KEY)" \
	  $(LOCUST_VENV)/bin/locust -f bench/locustfile.py --headless -u 10 -r 5 -t 60s --only-summary $(ARGS)

# Set-up, every lint step and every test. The lint steps (`make lint`) run in the background at a
# lower priority while pytest runs, so they fill what pytest leaves of the two cores (its end-to-end
# tests wait on the local stack) rather than delay it. Each lint step's output appears whole when it
# ends, between pytest's; make test fails if lint or a test fails. Three pytest workers on the two
# cores: the end-to-end tests spend much of their time waiting on deliveries (clean clones, 2026-12-04:
# 180 to 209 s with three, 219 s with two). The workers take whole files, slowest folder first
# (tests/conftest.py), so that no long file starts last.
TEST_WORKERS ?= 3
test: $(VENV)/.installed $(SAM_VENV)/.installed $(MINISTACK_VENV)/.installed browser
	@nice -n 10 $(MAKE) --no-print-directory lint & lint=$$!; \
	trap 'kill $$lint 2>/dev/null' INT TERM; \
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder; tests=$$?; \
	wait $$lint; linted=$$?; \
	[ $$linted -eq 0 ] || echo "make test: lint failed (its output is above)"; \
	[ $$tests -eq 0 ] && [ $$linted -eq 0 ]

unit: $(VENV)/.installed
	$(BIN)/pytest tests/unit

functional: $(VENV)/.installed
	$(BIN)/pytest tests/functional

# The lint steps, two at a time on the two cores, each one's environment made just before it; the
# longest first (cold, on 2 cores: mypy about 15 s of CPU, checkov 11, cfn-lint 7, ruff under 1). Each
# step's output is printed whole when it ends; every step runs even when one fails, and then lint fails.
# `sam validate --lint` (lint-sam) is cfn-lint again, the library at the same version (a test keeps
# the two pins equal) with the same rules and region: lint runs it once, as lint-cfn.
LINTS := lint-mypy lint-checkov lint-cfn lint-ruff
lint:
	@$(MAKE) --no-print-directory --jobs=2 --keep-going --output-sync=target $(LINTS)

lint-ruff: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

lint-mypy typecheck: $(VENV)/.installed
	$(BIN)/mypy layers/common/notifier functions devstack bench ops build

lint-cfn: $(VENV)/.installed
	$(BIN)/cfn-lint --regions $(REGION) -- template.yaml

lint-sam: $(SAM_VENV)/.installed
	$(SAM) validate --lint --region $(REGION) --template template.yaml

lint-checkov: $(CHECKOV_VENV)/.installed
	$(CHECKOV_VENV)/bin/checkov --file template.yaml --framework cloudformation --compact --quiet --skip-download

# The API's published contract, generated from the code; a test fails when the committed one is stale.
openapi: $(VENV)/.installed
	PYTHONPATH=layers/common $(BIN)/python -m build.openapi $(ARGS)

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

build: $(SAM_VENV)/.installed
	@[ -n "$(PY313_DIR)" ] || { echo "make build: no python3.13 found on PATH or in ~/.pyenv/versions;" \
		"install Python 3.13, or run '$(SAM) build --use-container' where Docker runs"; exit 1; }
	PATH="$(PY313_DIR):$$PATH" $(SAM) build --template template.yaml
	$(PY313_DIR)/python3.13 -m build.slim_build .aws-sam/build --python $(PY313_DIR)/python3.13

deploy: build
	$(SAM) deploy $(if $(wildcard samconfig.toml),,--guided) $(DEPLOY_ARGS)

# ---------------------------------------------------------------- deploying to an emulator
# MiniStack (MIT, from PyPI) in .tools/ministack, on Python 3.13: it runs the functions with its own
# interpreter, so that interpreter must be the template's runtime, and the build must be for this
# machine's architecture. It listens on 127.0.0.1 only (MQTT over TLS for IoT off), and keeps its
# state, log and pid file in .tools/ministack-data, which stop-local removes.
MINISTACK_DATA := .tools/ministack-data
MINISTACK_PORT ?= 4567
MINISTACK_ENDPOINT := http://127.0.0.1:$(MINISTACK_PORT)
MINISTACK_ENV := PATH="$(abspath $(MINISTACK_VENV))/bin:$$PATH" BIND_HOST=127.0.0.1 GATEWAY_PORT=$(MINISTACK_PORT) \
	MINISTACK_HOST=127.0.0.1 IOT_MTLS_ENABLED=0 TMPDIR="$(abspath $(MINISTACK_DATA))" \
	STATE_DIR="$(abspath $(MINISTACK_DATA))/state" PERSIST_STATE=1
LOCALSTACK_ENDPOINT ?= http://localhost.localstack.cloud:4566
HOST_ARCH := $(if $(filter aarch64 arm64,$(shell uname -m)),arm64,x86_64)
# The stack an emulator gets: its Parameters (on the command line, so they replace samconfig.toml's),
# made for the deployed tests, which the README's docs/deploying.md explains: the host's architecture;
# no alarms (MiniStack has no metric-math alarms); no per-queue concurrency cap (MiniStack compares
# the cap, a string in CloudFormation, with a number, and its poller stops); and short retries and
# digest windows so a dead letter or a digest is seen within a minute.
EMULATOR_STACK ?= notifier
EMULATOR_PARAMETERS ?= Architecture=$(HOST_ARCH) Alarms=Disabled CriticalMaxConcurrency=0 StandardMaxConcurrency=0 \
	MaxReceiveCount=3 RetryBaseSeconds=1 RetryMaxSeconds=2 QueueVisibilityTimeoutSeconds=40 StandardBatchingWindowSeconds=1 \
	DigestWindowSeconds=5 SandboxReceiptDelayMs=200
EMULATOR_BUILD := .aws-sam/emulator

$(MINISTACK_VENV)/.installed: requirements/ministack.txt $(UV_STAMP)
	@[ -n "$(PY313_DIR)" ] || { echo "MiniStack runs the functions with its own interpreter, which must be" \
		"python3.13: none found on PATH or in ~/.pyenv/versions"; exit 1; }
	$(UV) venv --quiet --allow-existing --python $(PY313_DIR)/python3.13 $(MINISTACK_VENV)
	$(UV) pip sync --quiet --python $(MINISTACK_VENV)/bin/python requirements/ministack.txt
	touch $@

# Starts MiniStack unless it answers already; waits until it does (at most 60 s).
start-local: $(MINISTACK_VENV)/.installed
	@mkdir -p $(MINISTACK_DATA)
	@curl -sf -o /dev/null $(MINISTACK_ENDPOINT)/_ministack/health || { \
	  echo "starting MiniStack on $(MINISTACK_ENDPOINT) (log: $(MINISTACK_DATA)/ministack-$(MINISTACK_PORT).log)"; \
	  $(MINISTACK_ENV) $(MINISTACK_VENV)/bin/ministack -d >/dev/null; \
	  for i in $$(seq 120); do curl -sf -o /dev/null $(MINISTACK_ENDPOINT)/_ministack/health && exit 0; sleep 0.5; done; \
	  echo "MiniStack did not answer on $(MINISTACK_ENDPOINT) within 60 s; see $(MINISTACK_DATA)/ministack-$(MINISTACK_PORT).log"; exit 1; }

stop-local:
	@if [ -x $(MINISTACK_VENV)/bin/ministack ] && [ -f $(MINISTACK_DATA)/ministack-$(MINISTACK_PORT).pid ]; then \
	  $(MINISTACK_ENV) $(MINISTACK_VENV)/bin/ministack --stop; fi
	rm -rf $(MINISTACK_DATA) $(EMULATOR_BUILD)

deploy-local: start-local
	@$(MAKE) --no-print-directory deploy-emulator EMULATOR_ENDPOINT=$(MINISTACK_ENDPOINT)

# LocalStack (with its auth token) started by you; the same build and deploy as MiniStack's.
deploy-localstack:
	@curl -sf -o /dev/null $(LOCALSTACK_ENDPOINT)/_localstack/health || { \
	  echo "make deploy-localstack: no LocalStack answers on $(LOCALSTACK_ENDPOINT) (LOCALSTACK_ENDPOINT)"; exit 1; }
	@$(MAKE) --no-print-directory deploy-emulator EMULATOR_ENDPOINT=$(LOCALSTACK_ENDPOINT)

# Build for this machine's architecture, deploy with samconfig.toml's `emulator` environment through
# AWS_ENDPOINT_URL (test credentials), then print the API's URL and key.
EMULATOR_AWS := env -u AWS_PROFILE -u AWS_SESSION_TOKEN AWS_ENDPOINT_URL=$(EMULATOR_ENDPOINT) AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
	AWS_REGION=$(REGION) AWS_DEFAULT_REGION=$(REGION)
deploy-emulator: $(SAM_VENV)/.installed $(VENV)/.installed
	@[ -n "$(EMULATOR_ENDPOINT)" ] || { echo "make deploy-emulator: EMULATOR_ENDPOINT is not set"; exit 1; }
	@[ -n "$(PY313_DIR)" ] || { echo "make deploy-emulator: no python3.13 found on PATH or in ~/.pyenv/versions"; exit 1; }
	PATH="$(PY313_DIR):$$PATH" $(SAM) build --template template.yaml --build-dir $(EMULATOR_BUILD) \
	  --parameter-overrides Architecture=$(HOST_ARCH)
	$(PY313_DIR)/python3.13 -m build.slim_build $(EMULATOR_BUILD) --python $(PY313_DIR)/python3.13
	$(EMULATOR_AWS) $(SAM) deploy --config-file $(abspath samconfig.toml) --config-env emulator --template-file $(EMULATOR_BUILD)/template.yaml \
	  --stack-name $(EMULATOR_STACK) --region $(REGION) --parameter-overrides $(EMULATOR_PARAMETERS) $(DEPLOY_ARGS)
	@$(EMULATOR_AWS) $(BIN)/python -m ops.stack --stack $(EMULATOR_STACK) --endpoint $(EMULATOR_ENDPOINT)

# The deploy proved from nothing, for CI beside make test: a fresh MiniStack, deploy, the deployed
# tests, then MiniStack stopped and removed whatever the tests did.
test-deploy:
	@$(MAKE) --no-print-directory stop-local
	@$(MAKE) --no-print-directory deploy-local && $(MAKE) --no-print-directory test-deployed; ok=$$?; \
	$(MAKE) --no-print-directory stop-local; exit $$ok

# The deployed-stack tests: against make deploy-local's stack by default, or against a stack in AWS with
# NOTIFIER_STACK=<name> NOTIFIER_ENDPOINT= (empty) and your AWS credentials and AWS_REGION.
NOTIFIER_STACK ?= $(EMULATOR_STACK)
NOTIFIER_ENDPOINT ?= $(MINISTACK_ENDPOINT)
test-deployed: $(VENV)/.installed
	NOTIFIER_STACK=$(NOTIFIER_STACK) NOTIFIER_ENDPOINT=$(NOTIFIER_ENDPOINT) AWS_REGION=$${AWS_REGION:-$(REGION)} \
	  $(BIN)/pytest tests/deployed -n 2 --dist loadfile $(ARGS)

# Re-lock after editing pyproject.toml's dependency groups or requirements/*.in, and write every
# requirements file from the locks: uv.lock (dev, load and one group per deployment unit), and
# requirements/<tool>.txt for the tools whose pins conflict with dev. Pins already locked are kept;
# `make lock ARGS=--upgrade` (or ARGS="--upgrade-package NAME") moves them.
# tests/infrastructure/test_requirements_lock.py fails when a file drifts from its lock.
lock: $(UV_STAMP)
	$(UV) lock --python $(PYTHON) $(ARGS)
	$(UV) pip compile --quiet --universal --python $(PYTHON) $(ARGS) requirements/sam.in -o requirements/sam.txt
	$(UV) pip compile --quiet --universal --python $(PYTHON) $(ARGS) requirements/checkov.in -o requirements/checkov.txt
	$(UV) pip compile --quiet --universal --python $(PYTHON) --python-version 3.13 $(ARGS) requirements/ministack.in \
	  -o requirements/ministack.txt
	$(call export-group,dev,requirements/dev.txt,$(DEV_PLATFORM),What the dev group of uv.lock installs on Linux x86_64 with Python 3.11 (for reading: make installs from uv.lock))
	$(foreach unit,$(SHIPPED),$(call export-group,$(lastword $(subst :, ,$(unit))),$(firstword $(subst :, ,$(unit)))/requirements.txt,$(LAMBDA_PLATFORM),What sam build installs into $(firstword $(subst :, ,$(unit))) for the Lambda runtime (python3.13 on arm64)))

# $(call export-group,GROUP,FILE,PLATFORM,TITLE): the dependency group GROUP of uv.lock, resolved for
# one platform (uv drops what its markers exclude there), as a plain pinned requirements file.
define export-group
	@echo "writing $(2) from the group $(1) of uv.lock"
	@$(UV) export --frozen --quiet --no-hashes --no-header --no-annotate --no-emit-project --only-group $(1) -o $(2).lock
	@{ echo "# $(4):"; \
	  echo "# the dependency group $(1) of uv.lock, written by \`make lock\`. Do not edit: change pyproject.toml."; \
	  if [ -s $(2).lock ]; then $(UV) pip compile --quiet --no-header --no-annotate --python $(PYTHON) $(3) $(2).lock; fi; \
	} > $(2).new
	@rm -f $(2).lock
	@mv $(2).new $(2)

endef

clean:
	rm -rf $(VENV) .tools .cache .aws-sam .pytest_cache .mypy_cache .ruff_cache
