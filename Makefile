# tokenprice — the commands this project runs.  `make help` lists them.
PYTHON ?= python3
export TIKTOKEN_CACHE_DIR := $(CURDIR)/target/tiktoken-cache
# tokenizers (Hugging Face) must never try the network in tests.
export HF_HUB_OFFLINE := 1

.PHONY: help install dev tiktoken-cache litellm-wheel browser redis-server postgres lint test test-rust test-python quickstart bench corpus clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

install:  ## build (release) and install the package
	$(PYTHON) -m pip install .

dev:  ## install the package in editable mode with everything the tests need (the engines too)
	$(PYTHON) -m pip install -e '.[test,spark,dask,ray]'

tiktoken-cache:  ## let the tiktoken package (the reference) run offline
	$(PYTHON) scripts/tiktoken_cache.py $(TIKTOKEN_CACHE_DIR)

lint:  ## rustfmt, clippy, rustdoc, ruff, mypy, stubtest (.pre-commit-config.yaml runs the same)
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --features python --lib -- -D warnings
	RUSTDOCFLAGS=-Dwarnings cargo doc --no-deps
	RUSTDOCFLAGS=-Dwarnings cargo doc --no-deps --features python
	$(PYTHON) -m ruff check python tests benches scripts examples
	$(PYTHON) -m ruff format --check python tests benches scripts examples
	$(PYTHON) -m mypy
	$(PYTHON) -m mypy.stubtest tokenprice._core

test-rust:  ## the core's tests (no Python involved)
	cargo test --release

# The LiteLLM release the price book was built from (scripts/import_prices.py pins it); the importer's tests read it.
LITELLM_VERSION := $(shell sed -n 's/^LITELLM_VERSION = "\(.*\)"/\1/p' scripts/import_prices.py)

litellm-wheel:  ## the pinned LiteLLM wheel (its price data) for the importer's tests
	test -n "$(LITELLM_VERSION)"
	ls benches/.cache/litellm/litellm-$(LITELLM_VERSION)-*.whl >/dev/null 2>&1 || \
		$(PYTHON) -m pip download -q litellm==$(LITELLM_VERSION) --no-deps -d benches/.cache/litellm

# The report's browser tests drive Debian's chromium through its chromedriver (never a browser downloaded by selenium).
browser:  ## Debian's chromium and chromium-driver for the report's browser tests (apt-get when missing)
	command -v chromium >/dev/null && test -x /usr/bin/chromedriver || \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver)

redis-server:  ## Debian's redis-server, which the budget tests start on a free port
	command -v redis-server >/dev/null || \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server)

postgres:  ## Debian's postgresql, which the LiteLLM spend-log tests start on a free port (runuser -u postgres)
	ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql)

test-python: tiktoken-cache litellm-wheel browser redis-server postgres  ## the pytest suite against the installed package
	$(PYTHON) -m pytest

# The README's quick start, exactly as written there (tests/test_readme.py checks the two agree).
QUICKSTART := pip install . && tokenprice price examples/logs/gateway.jsonl.gz --by tenant,feature
QUICKSTART_VENV := $(CURDIR)/target/quickstart-venv

quickstart:  ## the README's first command in a fresh virtualenv without extras, as a newcomer runs it
	rm -rf $(QUICKSTART_VENV)
	$(PYTHON) -m venv $(QUICKSTART_VENV)
	cd $(CURDIR) && PATH=$(QUICKSTART_VENV)/bin:$$PATH VIRTUAL_ENV=$(QUICKSTART_VENV) PYTHONPATH= \
		bash -euo pipefail -c '$(QUICKSTART) > $(QUICKSTART_VENV)/out.txt'
	grep -q '^acme' $(QUICKSTART_VENV)/out.txt || (cat $(QUICKSTART_VENV)/out.txt; echo 'quick start printed no totals'; exit 1)
	@echo "quick start: OK from a fresh virtualenv"

test: dev lint test-rust test-python quickstart  ## everything: install, lint, cargo test, pytest, the quick start

corpus:  ## build the benchmark corpus from text on this machine
	$(PYTHON) benches/corpus.py

bench: corpus tiktoken-cache browser postgres litellm-wheel  ## benchmarks against the competitors; results go to benches/RESULTS.md
	$(PYTHON) -m pip install -e '.[test,spark,dask,ray]'
	cargo bench --bench count_core
	$(PYTHON) benches/bench_count.py
	cargo bench --bench price_core
	$(PYTHON) benches/bench_price.py --threads 2
	$(PYTHON) benches/bench_resolve.py
	$(PYTHON) benches/bench_request.py
	$(PYTHON) benches/bench_size.py
	$(PYTHON) benches/bench_extract.py
	$(PYTHON) -m pip install duckdb
	$(PYTHON) benches/bench_logs.py
	$(PYTHON) benches/bench_storage.py
	$(PYTHON) benches/bench_postgres.py --rows 200000 --rounds 2
	cargo bench --bench ledger_core
	$(PYTHON) benches/bench_reconcile.py
	$(PYTHON) benches/bench_report.py
	$(PYTHON) benches/bench_scale.py

clean:
	cargo clean
	rm -rf benches/corpus .pytest_cache .mypy_cache .ruff_cache
