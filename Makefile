# govbus - every target does one job. `make help` lists them.
# Python 3.13, the Lambda runtime (python3.13 on Amazon Linux 2023): python3.13 on PATH,
# else the newest 3.13 that pyenv holds (a pyenv shim counts only if it runs 3.13);
# PYTHON=/path/to/python3.13 chooses another.
ifndef PYTHON
PYTHON    := $(shell for p in "$$(command -v python3.13)" $$(ls -1d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.13*/bin/python3.13 2>/dev/null | sort -V -r); do [ -n "$$p" ] && "$$p" -c "import sys; assert sys.version_info[:2] == (3, 13)" 2>/dev/null && { echo "$$p"; break; }; done)
endif
ifeq ($(strip $(PYTHON)),)
$(error govbus needs Python 3.13 (the Lambda runtime it deploys on), and none was found on PATH or in pyenv: install it (`pyenv install 3.13`, or your OS's python3.13 package) or run make with PYTHON=/path/to/python3.13)
endif
# sam build finds the runtime's interpreter on PATH by name (python3.13)
PYTHON_BIN_DIR := $(dir $(PYTHON))
VENV      := .venv
BIN       := $(VENV)/bin
STAMP     := $(VENV)/.installed-from-pyproject
SAM_VENV  := .sam-venv
SAM       := $(SAM_VENV)/bin/sam
SAM_CLI_VERSION := 1.170.0
CHECKOV_VENV := .checkov-venv
CHECKOV   := $(CHECKOV_VENV)/bin/checkov
CHECKOV_VERSION := 3.3.30
PORT      ?= 3000
ADAPTER   ?=
export SAM_CLI_TELEMETRY := 0
export NO_MKDOCS_2_WARNING := 1
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: help run demo test test-unit lint validate checkov docs openapi fuzz build bench cost soak soak-short conformance clean build-SharedLayer

help:
	@echo "make run          start the whole platform locally (gateway on :$(PORT))"
	@echo "make demo         walk a citizen's journey through the running stack (make run first)"
	@echo "make test         run every test suite (unit, integration, e2e, conformance), on 2 workers"
	@echo "make test-unit    the unit tests alone (no network, no local stack): the inner loop"
	@echo "make lint         ruff + import-linter (the dependency direction)"
	@echo "make validate     sam validate --lint, cfn-lint and checkov on template.yaml"
	@echo "make checkov      checkov on template.yaml (suppressions inline, with reasons)"
	@echo "make docs         build the docs site strictly into site/ (broken links fail)"
	@echo "make openapi      write docs/openapi.json, generated from the functions' routes"
	@echo "make fuzz         schemathesis: every operation of docs/openapi.json against a local stack"
	@echo "make build        sam build (no container), then each function's size with its layers"
	@echo "make cost         dollars per million webhooks and per million cases, on paper (CNY unverified)"
	@echo "make bench        print benchmark ratios against same-run baselines"
	@echo "make soak         2,000 pushes and commands through faults, then recovery (~10 min)"
	@echo "make soak-short   the soak's 100-item form (also inside make test)"
	@echo "make conformance  run the adapter kit (ADAPTER=name for one adapter)"

# The virtual environment is rebuilt whenever pyproject.toml changes.
$(STAMP): pyproject.toml
	@# a .venv of another Python (3.11, before the move to 3.13) is made anew
	$(BIN)/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null || { rm -rf $(VENV); $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The SAM CLI pins many packages: it lives in a virtual environment of its own.
$(SAM):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet 'aws-sam-cli==$(SAM_CLI_VERSION)'

# checkov pins many packages too: a virtual environment of its own.
$(CHECKOV):
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet 'checkov==$(CHECKOV_VERSION)'

run: $(STAMP)
	$(BIN)/govbus dev --port $(PORT)

demo: $(STAMP)
	$(BIN)/govbus demo

# TEST_WORKERS=2 (the default): two pytest-xdist workers (the machine's two cores), each
# with its own local stack (session fixtures are per worker; every server binds port 0);
# a file's tests stay on one worker (--dist loadfile), so module fixtures (stacks, builds)
# are set up once. TEST_WORKERS=0 runs in one process. The local endpoint serialises
# DynamoDB's requests (govbus_dev/local/endpoint.py: moto's conditional updates were not
# atomic under concurrent requests). The summary ends with the wall time and the ten
# slowest set-ups (tests/conftest.py).
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

# the inner loop: the tests that need no network (no local stack), under a minute
test-unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit -n $(TEST_WORKERS) --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

LINT_REGIONS := us-east-1 cn-north-1 cn-northwest-1
validate: $(STAMP) $(SAM) $(CHECKOV)
	$(SAM) validate --lint --region $(AWS_DEFAULT_REGION)
	@# a global region and both China regions (prod deploys to cn-north-1: samconfig.toml)
	$(BIN)/cfn-lint --regions $(LINT_REGIONS) -- template.yaml
	$(CHECKOV) --file template.yaml --framework cloudformation --compact --quiet --skip-download

checkov: $(CHECKOV)
	$(CHECKOV) --file template.yaml --framework cloudformation --compact --quiet --skip-download

docs: $(STAMP)
	$(BIN)/mkdocs build --strict --site-dir site

openapi: $(STAMP)
	$(BIN)/python -m govbus_dev.openapi

# the long form of tests/integration/test_api_fuzz.py (its short form runs in `make test`)
fuzz: $(STAMP)
	GOVBUS_FUZZ_EXAMPLES=$${GOVBUS_FUZZ_EXAMPLES:-25} $(BIN)/python -m pytest tests/integration/test_api_fuzz.py -q

# The functions' CodeUri folders are built by SAM's Python builder: compile them after;
# then the size budget: each function with its layers, unzipped, within Lambda's
# 262,144,000 bytes (tools/build_report.py prints the table and fails over it).
build: $(SAM)
	PATH="$(PYTHON_BIN_DIR):$$PATH" $(SAM) build
	$(PYTHON) $(COMPILE) .aws-sam/build
	$(PYTHON) tools/build_report.py .aws-sam/build

bench: $(STAMP)
	$(BIN)/python -m bench

# dollars per million webhooks accepted and per million cases (application to delivery),
# from a measured run on the local stack and public prices (bench/cost.py says which)
cost: $(STAMP)
	$(BIN)/python -m bench.cost

# tests/soak.py says what it does and what each count means; the exit status is the verdict
soak: $(STAMP)
	$(BIN)/python -m tests.soak --total 2000

# the 100-item form alone (`make test` runs it too)
soak-short: $(STAMP)
	$(BIN)/python -m pytest tests/integration/test_soak.py

conformance: $(STAMP)
	$(BIN)/python -m pytest tests/conformance $(if $(ADAPTER),--adapter $(ADAPTER))

clean:
	rm -rf .aws-sam build site *.egg-info

# Called by `sam build` (BuildMethod: makefile) to assemble the shared layer:
# the project itself, with its entry points, and its runtime dependencies; not the
# developer's tools (govbus_dev, the `govbus` script). Bytecode is compiled here, with
# hashes that need no source timestamps (a zip keeps mtimes only to two seconds), so a
# cold start reads .pyc files instead of compiling. LAYER_PIP_FLAGS: extra pip options
# (the layer test passes --no-deps --no-build-isolation to stay offline). botocore_data:
# the services' models without documentation, uncompressed (AWS_DATA_PATH in the template).
LAYER_PIP_FLAGS ?=
COMPILE := -m compileall -q -j 0 --invalidation-mode unchecked-hash
build-SharedLayer:
	mkdir -p "$(ARTIFACTS_DIR)/python"
	$(PYTHON) -m pip install --quiet --no-compile $(LAYER_PIP_FLAGS) --target "$(ARTIFACTS_DIR)/python" .
	PYTHONPATH="$(ARTIFACTS_DIR)/python" $(PYTHON) govbus_dev/botocore_data.py "$(ARTIFACTS_DIR)/python/botocore_data"
	rm -rf "$(ARTIFACTS_DIR)/python/govbus_dev" "$(ARTIFACTS_DIR)/python/bin"
	$(PYTHON) $(COMPILE) "$(ARTIFACTS_DIR)/python"
	rm -rf build *.egg-info
