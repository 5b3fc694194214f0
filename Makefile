# Dealroom. `make run` serves on 127.0.0.1:3000; `make test` runs every test.
# Both work on a fresh machine: they start a local PostgreSQL (installing the
# server package if it is missing) unless DATABASE_URL (make run) or
# TESTKIT_DATABASE_URL (the tests' testkit) is set.

SHELL := /bin/bash
CARGO ?= cargo
TESTKIT_DIR ?= $(shell echo $${TMPDIR:-/tmp})/dealroom-testkit-$(shell id -u)
export TESTKIT_DIR

.PHONY: run test test-browser test-newcomer docs cluster cluster-stop test-cluster lint openapi-lint fmt check-deps check-schema db db-stop build release bench abuse fuzz-api clean

## run: serve the API on 127.0.0.1:3000 (this checkout's local PostgreSQL unless DATABASE_URL is set)
run:
	@if [ -z "$$DATABASE_URL" ]; then url=$$(scripts/pg.sh start) || exit 1; \
	  export DATABASE_URL=$$(echo "$$url" | tail -n 1); fi; \
	$(CARGO) run --release --bin dealroom -- serve

## test: the whole suite, on disposable PostgreSQL databases (testkit), and the docs page in headless Chromium when it is installed
test:
	@scripts/pg.sh ensure-server
	@scripts/moto.sh ensure >/dev/null
	$(CARGO) build --bin dealroom
	$(CARGO) test --workspace --no-fail-fast -- --test-threads=8; status=$$?; \
	scripts/testkit-stop.sh; \
	CARGO="$(CARGO)" DEALROOM_BIN=target/debug/dealroom scripts/browser-test.sh || status=1; exit $$status

## test-browser: the docs page (/docs) in headless Chromium against its own server (builds first; skipped without Chromium)
test-browser:
	@CARGO="$(CARGO)" scripts/browser-test.sh

## docs: every crate's API docs (each crate's README is its front page), warnings are errors; target/doc/dealroom/index.html
docs:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps

## lint: formatting, clippy -D warnings, the dependency rule, schema drift, the OpenAPI document
lint: check-deps check-schema openapi-lint
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## openapi-lint: openapi-spec-validator, redocly lint and a generated client on bin/server/openapi.json
openapi-lint:
	@scripts/openapi-lint.sh

fmt:
	$(CARGO) fmt --all

## check-deps: the context crates and domain depend on neither diesel nor actix-web
check-deps:
	@scripts/check-deps.sh

## check-schema: migrate a scratch database, print its schema, diff with crates/store/src/schema.rs
check-schema:
	@scripts/check-schema.sh

## db / db-stop: this checkout's local cluster (under .data/; as root, outside the checkout: scripts/pg.sh)
db:
	@scripts/pg.sh start
db-stop:
	@scripts/pg.sh stop

## cluster / cluster-stop: a primary, a streaming replica, PgBouncer (transaction mode) and two instances on loopback (README "Scaling out")
cluster:
	@CARGO="$(CARGO)" scripts/cluster.sh start
cluster-stop:
	@scripts/cluster.sh stop

## test-cluster: starts the cluster, runs tests/cluster against it (two instances, replica and PgBouncer stopped under load), stops it
test-cluster:
	@CARGO="$(CARGO)" RATE_LIMIT_MAX=1000000 AUTH_RATE_LIMIT_MAX=1000000 BCRYPT_ROUNDS=4 LOG_LEVEL=warn \
	  scripts/cluster.sh start || { scripts/cluster.sh stop; exit 1; }; \
	DEALROOM_CLUSTER_ENV=$$(scripts/cluster.sh env-file) $(CARGO) test -p integration-tests --test cluster -- --ignored --test-threads=1 --nocapture; \
	status=$$?; scripts/cluster.sh stop; exit $$status

## test-newcomer: `make db` in private clones at once (as root, and unprivileged), each its own cluster, all stopped
test-newcomer:
	@scripts/test-newcomer.sh

## bench: load-test a release build with wrk, beside pgbench ceilings (README "Benchmarks")
bench:
	@CARGO="$(CARGO)" scripts/bench/run.sh

## abuse: slow, stalled and departing clients against a release build (README "Abuse"; a few minutes)
abuse:
	@CARGO="$(CARGO)" scripts/abuse/run.sh

## fuzz-api: schemathesis against the running API and its own OpenAPI document (~1 min)
fuzz-api:
	@scripts/api-fuzz.sh

build:
	$(CARGO) build --workspace
release:
	$(CARGO) build --release --bin dealroom

clean:
	scripts/pg.sh destroy; rm -rf .data; $(CARGO) clean
