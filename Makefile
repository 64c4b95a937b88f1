# One command for each job. Every target sets up what it needs first, on a fresh machine too.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAM_VENV := .tools/sam
SAM := SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam
CHECKOV_VENV := .tools/checkov
LOCUST_VENV := .tools/locust
NOTIFIER_URL ?= http://127.0.0.1:3000
NOTIFIER_API_KEY ?= local-dev-key
REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

# `sam build` for the python3.13 runtime needs a python3.13 on PATH that runs: one from pyenv's
# versions (a pyenv shim is not enough), or one on PATH.
PY313_DIR := $(shell for d in $$(ls -d $$HOME/.pyenv/versions/3.13*/bin 2>/dev/null | sort -r) \
	"$$(dirname "$$(command -v python3.13 2>/dev/null)" 2>/dev/null)"; do \
	[ -x "$$d/python3.13" ] && "$$d/python3.13" -c "" 2>/dev/null && { echo "$$d"; break; }; done)

.PHONY: help setup run bench load chaos redrive test unit functional lint format typecheck openapi build deploy deploy-localstack lock clean

help:
	@echo "make run        the whole service on 127.0.0.1 (API :3000, emulator :4566); ARGS='--help' for options"
	@echo "make test       set up, lint, and run every test"
	@echo "make bench      cold starts, publish CPU, batch delivery, artifact sizes, local stack, cost: a table against the budgets"
	@echo "make load       Locust against NOTIFIER_URL (default: the local stack of make run) with NOTIFIER_API_KEY"
	@echo "make chaos      fault scenarios in the local stack (vendor failures, crashes, timeouts): lost and duplicated counts"
	@echo "make redrive QUEUE=email-critical   move a DLQ's messages back to their queue (ARGS='--endpoint http://127.0.0.1:4566' for make run)"
	@echo "make lint       ruff (with security rules), mypy, cfn-lint, sam validate --lint and checkov"
	@echo "make openapi    write docs/openapi.json, the published contract, from the publish function's routes"
	@echo "make build      sam build, then bytecode and botocore's data trimmed (ops/slim_build.py; needs python3.13)"
	@echo "make deploy     sam deploy (guided the first time)"
	@echo "make deploy-localstack   samlocal build + deploy to a running LocalStack"

setup: $(VENV)/.installed $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed

$(VENV)/.installed: requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements/dev.txt
	touch $@

$(SAM_VENV)/.installed: requirements/sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet -r requirements/sam.txt
	touch $@

$(LOCUST_VENV)/.installed: requirements/locust.txt
	$(PYTHON) -m venv $(LOCUST_VENV)
	$(LOCUST_VENV)/bin/pip install --quiet -r requirements/locust.txt
	touch $@

$(CHECKOV_VENV)/.installed: requirements/checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet -r requirements/checkov.txt
	touch $@

# The docker-free local stack, in the foreground until Ctrl-C. Options: make run ARGS="--help";
# PROFILE=fast starts from samconfig.toml's fast profile (short timeouts and backoff).
run: $(VENV)/.installed
	$(BIN)/python -m devstack $(if $(PROFILE),--profile $(PROFILE)) $(ARGS)

# Fault scenarios against the local stack with the fast profile; exits 1 if a notification is lost.
chaos: $(VENV)/.installed
	$(BIN)/python -m devstack.chaos $(ARGS)

# Move a dead-letter queue's messages back to the queue they came from. Options: ARGS="--help".
redrive: $(VENV)/.installed
	@[ -n "$(QUEUE)" ] || { echo "usage: make redrive QUEUE=<email-critical|...|DLQ logical id|URL|ARN> [ARGS='--stack S --region R --endpoint URL --max-per-second N --no-wait']"; exit 2; }
	$(BIN)/python -m ops.redrive "$(QUEUE)" $(ARGS)

# Measurements (not pass/fail tests): each module merges its figures into bench/results.json, then
# bench.report prints them beside their budgets (exit 1 if one fails). About 6 minutes on 2 cores.
bench: $(VENV)/.installed
	rm -f bench/results.json
	PYTHONPATH=layers/common $(BIN)/python -m bench.cold_start
	PYTHONPATH=layers/common $(BIN)/python -m bench.publish_cost
	POWERTOOLS_METRICS_DISABLED=true POWERTOOLS_METRICS_NAMESPACE=bench POWERTOOLS_LOG_LEVEL=WARNING \
	  PYTHONPATH=layers/common $(BIN)/python -m bench.batch_latency
	$(BIN)/python -m bench.local_latency
	$(MAKE) build
	$(BIN)/python -m bench.artifacts --no-build
	$(BIN)/python -m bench.cost
	$(BIN)/python -m bench.report

# Load test of the API with Locust: the local stack of `make run` (in another terminal) by default, or a
# deployed stack: make load NOTIFIER_URL=https://.../prod NOTIFIER_API_KEY=... ARGS="-u 50 -t 5m"
load: $(LOCUST_VENV)/.installed
	NOTIFIER_URL="$(NOTIFIER_URL)" NOTIFIER_API_KEY="$(NOTIFIER_API_KEY)" \
	  $(LOCUST_VENV)/bin/locust -f bench/locustfile.py --headless -u 10 -r 5 -t 60s --only-summary $(ARGS)

test: lint
	$(BIN)/pytest -n 2 --dist loadfile

unit: $(VENV)/.installed
	$(BIN)/pytest tests/unit

functional: $(VENV)/.installed
	$(BIN)/pytest tests/functional

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy layers/common/notifier functions devstack bench ops
	$(BIN)/cfn-lint template.yaml
	$(SAM) validate --lint --region $(REGION) --template template.yaml
	$(CHECKOV_VENV)/bin/checkov --file template.yaml --framework cloudformation --compact --quiet --skip-download

# The API's published contract, generated from the code; a test fails when the committed one is stale.
openapi: $(VENV)/.installed
	PYTHONPATH=layers/common $(BIN)/python -m ops.openapi

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

build: $(SAM_VENV)/.installed
	@[ -n "$(PY313_DIR)" ] || { echo "make build: no python3.13 found on PATH or in ~/.pyenv/versions;" \
		"install Python 3.13, or run '$(SAM) build --use-container' where Docker runs"; exit 1; }
	PATH="$(PY313_DIR):$$PATH" $(SAM) build --template template.yaml
	$(PY313_DIR)/python3.13 -m ops.slim_build .aws-sam/build --python $(PY313_DIR)/python3.13

deploy: build
	$(SAM) deploy $(if $(wildcard samconfig.toml),,--guided) $(DEPLOY_ARGS)

deploy-localstack: $(SAM_VENV)/.installed
	@[ -n "$(PY313_DIR)" ] || { echo "make deploy-localstack: no python3.13 found"; exit 1; }
	PATH="$(PY313_DIR):$(abspath $(SAM_VENV))/bin:$$PATH" $(SAM_VENV)/bin/samlocal build --template template.yaml
	$(PY313_DIR)/python3.13 -m ops.slim_build .aws-sam/build --python $(PY313_DIR)/python3.13
	PATH="$(PY313_DIR):$(abspath $(SAM_VENV))/bin:$$PATH" $(SAM_VENV)/bin/samlocal deploy --config-env localstack $(DEPLOY_ARGS)

# Re-pin every dependency after editing requirements/*.in.
lock:
	rm -rf /tmp/notifier-lock-dev /tmp/notifier-lock-sam /tmp/notifier-lock-checkov /tmp/notifier-lock-locust
	$(PYTHON) -m venv /tmp/notifier-lock-dev && /tmp/notifier-lock-dev/bin/pip install -q -r requirements/dev.in
	{ echo "# Fully pinned from requirements/dev.in by \`make lock\`. Do not edit by hand."; \
	  /tmp/notifier-lock-dev/bin/pip freeze; } > requirements/dev.txt
	$(PYTHON) -m venv /tmp/notifier-lock-sam && /tmp/notifier-lock-sam/bin/pip install -q -r requirements/sam.in
	{ echo "# Fully pinned from requirements/sam.in by \`make lock\`. Do not edit by hand."; \
	  /tmp/notifier-lock-sam/bin/pip freeze; } > requirements/sam.txt
	$(PYTHON) -m venv /tmp/notifier-lock-checkov && /tmp/notifier-lock-checkov/bin/pip install -q -r requirements/checkov.in
	{ echo "# Fully pinned from requirements/checkov.in by \`make lock\`. Do not edit by hand."; \
	  /tmp/notifier-lock-checkov/bin/pip freeze; } > requirements/checkov.txt
	$(PYTHON) -m venv /tmp/notifier-lock-locust && /tmp/notifier-lock-locust/bin/pip install -q -r requirements/locust.in
	{ echo "# Fully pinned from requirements/locust.in by \`make lock\`. Do not edit by hand."; \
	  /tmp/notifier-lock-locust/bin/pip freeze; } > requirements/locust.txt

clean:
	rm -rf $(VENV) .tools .aws-sam .pytest_cache .mypy_cache .ruff_cache
