# Dealroom. `make run` serves on 127.0.0.1:3000; `make test` runs every test.
# Both work on a fresh machine: they start a local PostgreSQL (installing the
# server package if it is missing) unless DATABASE_URL is set.

SHELL := /bin/bash
CARGO ?= cargo
TESTKIT_DIR ?= $(shell echo $${TMPDIR:-/tmp})/dealroom-testkit-$(shell id -u)
export TESTKIT_DIR

.PHONY: run test lint fmt check-deps check-schema db db-stop build release bench fuzz-api clean

## run: serve the API on 127.0.0.1:3000 (local PostgreSQL under .data/ unless DATABASE_URL is set)
run:
	@if [ -z "$$DATABASE_URL" ]; then url=$$(scripts/pg.sh start) || exit 1; \
	  export DATABASE_URL=$$(echo "$$url" | tail -n 1); fi; \
	$(CARGO) run --release --bin dealroom -- serve

## test: the whole suite, on disposable PostgreSQL databases (testkit)
test:
	@scripts/pg.sh ensure-server
	@scripts/moto.sh ensure >/dev/null
	$(CARGO) build --bin dealroom
	$(CARGO) test --workspace --no-fail-fast -- --test-threads=8; status=$$?; \
	scripts/testkit-stop.sh; exit $$status

## lint: formatting, clippy -D warnings, the dependency rule, schema drift
lint: check-deps check-schema
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

## check-deps: the context crates and domain depend on neither diesel nor actix-web
check-deps:
	@scripts/check-deps.sh

## check-schema: migrate a scratch database, print its schema, diff with crates/store/src/schema.rs
check-schema:
	@scripts/check-schema.sh

## db / db-stop: the local cluster under .data/
db:
	@scripts/pg.sh start
db-stop:
	@scripts/pg.sh stop

## bench: load-test a release build with wrk, beside pgbench ceilings (README "Benchmarks")
bench:
	@CARGO="$(CARGO)" scripts/bench/run.sh

## fuzz-api: schemathesis against the running API and its own OpenAPI document (~1 min)
fuzz-api:
	@scripts/api-fuzz.sh

build:
	$(CARGO) build --workspace
release:
	$(CARGO) build --release --bin dealroom

clean:
	scripts/pg.sh stop; rm -rf .data; $(CARGO) clean
