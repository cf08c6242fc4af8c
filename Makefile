# The two commands of the contract: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
UV_VERSION := 0.13.9
UV := $(VENV)/bin/uv
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON := $(VENV)/bin/python

.PHONY: run test lint bench serve-prod migrate seed clean

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# --inexact keeps uv itself in the venv; --frozen installs exactly uv.lock.
$(VENV)/.installed: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --inexact --quiet
	touch $@

$(VENV)/.installed-test: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --inexact --quiet --extra test
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(VENV)/bin/appointments migrate
	$(VENV)/bin/appointments seed --if-empty
	$(VENV)/bin/appointments serve

# Two test processes: much of the suite waits on browsers, servers and databases.
# TEST_WORKERS=0 runs it in one process (easier to read a failure).
TEST_WORKERS ?= 2

test: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -n $(TEST_WORKERS)

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(VENV)/.installed-test
	$(VENV)/bin/python -m bench

# Production: several gunicorn workers (gunicorn.conf.py). Never seeds demo data; set
# DATABASE_URL (PostgreSQL), REDIS_URL and SECRET_KEY (else one is made in var/secret_key).
serve-prod: $(VENV)/.installed
	$(VENV)/bin/appointments migrate
	@mkdir -p var
	@test -n "$$SECRET_KEY" || test -s var/secret_key || \
	  (umask 077; $(VENV)/bin/python -c 'import secrets; print(secrets.token_urlsafe(48))' > var/secret_key)
	SECRET_KEY="$${SECRET_KEY:-$$(cat var/secret_key)}" \
	  $(VENV)/bin/gunicorn -c gunicorn.conf.py 'app:create_server()'

clean:
	rm -rf $(VENV) var/*.sqlite3 tests/artifacts
