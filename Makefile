# The two commands of the quick start are `make run` and `make test`; everything they need
# (virtualenv, packages, the Python checker runtime, the database) is built on the way.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint setup install guest migrate examples bench bench-peers clean

# Web, worker and beat together (Procfile), on embedded defaults unless the environment says otherwise.
# SITE_URL follows HOST and PORT, so the demo's sign-in line and alarm links name the real address.
run: setup
	SITE_URL=$${SITE_URL:-http://$(HOST):$(PORT)} $(PY) manage.py load_demo
	PATH="$(abspath $(VENV))/bin:$$PATH" SITE_URL=$${SITE_URL:-http://$(HOST):$(PORT)} MALLEABLE_HOST=$(HOST) MALLEABLE_PORT=$(PORT) $(VENV)/bin/honcho start

# Tests build their own databases, so they need no migrate of yours.
test: install guest
	$(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

setup: install guest migrate

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

# The Python checker runtime: CPython compiled to a wasm component (not committed).
# Compiling it takes ~10 s once; a first run here fills the on-disk cache so workers never pay it.
guest: install
	$(PY) -m checkers.sandbox.python.build
	@mkdir -p var && printf 'ok("warm")\n' > var/warm.py
	$(PY) manage.py sandbox_run var/warm.py --json > /dev/null

bench: install guest
	$(PY) bench/sandbox.py
	$(PY) bench/pipeline.py

# Malleable beside GX Core and Soda Core; installs them into bench/peers/.venvs/ on first use.
bench-peers: install guest
	$(PY) bench/peers/run.py

migrate: install
	$(PY) manage.py migrate --no-input

examples: install
	$(MAKE) -C examples

clean:
	rm -rf var $(VENV)
	$(MAKE) -C examples clean
