# Vigil — the two commands:
#   make run    build and start one node on SQLite at http://127.0.0.1:3000
#   make test   every test: unit, integration on SQLite and PostgreSQL, end to end
# Both install what is missing first (see `tools` and `test-deps`).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CARGO ?= cargo
SITE := target/site
WASM_TARGET := wasm32-unknown-unknown
# The wasm-bindgen CLI must match the library version pinned in Cargo.lock.
WASM_BINDGEN_VERSION := $(shell sed -n '/^name = "wasm-bindgen"$$/{n;s/^version = "\(.*\)"/\1/p;}' Cargo.lock)
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: help run demo build test tools test-deps site-debug site-release lint test-build unit e2e contract bench-queue bench-investigations bench-alerts bench-centralize bench-security bench-tls fuzz faults soak clean

help:
	@echo "make run    build (release) and start one node on SQLite at http://127.0.0.1:3000"
	@echo "make demo   the same on a separate database (./demo-data) with a simulated fleet and two agents"
	@echo "make test   lint, unit + integration tests (SQLite and PostgreSQL), end-to-end tests"
	@echo "make bench-queue   the command queue benchmark on SQLite and a throwaway PostgreSQL"
	@echo "make bench-alerts   1 000 alerts over 100 000 products: CPU per node, evaluation time, firing latency"
	@echo "make bench-centralize   20 standalone sources (100 users, 2 000 items) centralized into one database"
	@echo "make bench-tls   heartbeat and keep-alive rates over HTTPS beside plain HTTP, same run"
	@echo "make fuzz   the UDP parser, product JSON bodies and UDP ingest under cargo-fuzz, 10 min each"
	@echo "make faults   each fault once under load (kill, freeze, black hole, failover, full disk; about 12 min)"
	@echo "make soak   the same faults on a schedule for 30 minutes (SOAK_MINUTES)"
	@echo "make bench-security   login, UDP and connection floods against a release node (figures, PASS/FAIL)"

## ---- tools -------------------------------------------------------------

# The wasm target and the wasm-bindgen CLI; wasm-opt comes from npm
# (Debian's binaryen produces a .wasm that fails to hydrate).
tools:
	@rustup target list --installed | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)
	@if [ "$$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $(WASM_BINDGEN_VERSION)" ]; then \
	  echo "installing wasm-bindgen-cli $(WASM_BINDGEN_VERSION)"; \
	  $(CARGO) install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION) --force; \
	fi
	@command -v npm >/dev/null || { echo "npm is required (apt-get install -y npm)"; exit 1; }
	@[ -x node_modules/.bin/wasm-opt ] || npm ci --no-audit --no-fund

# Chromium and PostgreSQL from Debian, Playwright from npm (it uses the
# system Chromium; it cannot download its own browser here).
test-deps: tools
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	@[ -d end2end/node_modules/@playwright/test ] || (cd end2end && npm ci --no-audit --no-fund)

## ---- build -------------------------------------------------------------

# The console bundle: wasm → wasm-bindgen → target/site/pkg, plus CSS and
# public files. Never export LEPTOS_OUTPUT_NAME while compiling: leptos reads
# it at compile time.
define build_site
	$(CARGO) build -p frontend --lib --target $(WASM_TARGET) $(1)
	mkdir -p $(SITE)/pkg
	wasm-bindgen --target web --no-typescript --out-dir $(SITE)/pkg --out-name vigil \
	  target/$(WASM_TARGET)/$(2)/frontend.wasm
	cp style/main.css $(SITE)/pkg/vigil.css
	cp -r public/. $(SITE)/
endef

site-debug: tools
	$(call build_site,,debug)

site-release: tools
	$(call build_site,--profile wasm-release,wasm-release)
	node_modules/.bin/wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
	  --enable-mutable-globals --enable-reference-types --enable-multivalue \
	  $(SITE)/pkg/vigil_bg.wasm -o $(SITE)/pkg/vigil_bg.wasm

build: site-release
	$(CARGO) build -p server --release

run: build
	target/release/vigil serve

# A node on its own SQLite file (./demo-data, not ./data) with a simulated
# fleet (30 products over UDP, 10 over HTTP) and two real agents (one
# two-way, one one-way), so a new user sees a live console. Ctrl-C stops all.
DEMO_PASSWORD ?= demo-admin-password
DEMO_ENROLLMENT_SECRET ?= demo-enrollment-secret-0123456789
demo: build
	$(CARGO) build --release -p agent
	@mkdir -p demo-data; \
	trap 'kill $$(jobs -p) 2>/dev/null; wait' EXIT; \
	VIGIL_ADMIN_PASSWORD='$(DEMO_PASSWORD)' VIGIL_ENROLLMENT_SECRET='$(DEMO_ENROLLMENT_SECRET)' \
	  VIGIL_CALLBACK_ALLOW=127.0.0.0/8 target/release/vigil serve --data-dir demo-data & \
	until (exec 3<>/dev/tcp/127.0.0.1/3000) 2>/dev/null; do sleep 0.2; done; \
	sleep infinity | target/release/vigil-sim --enroll '$(DEMO_ENROLLMENT_SECRET)' --count 30 --prefix demo-udp >demo-data/sim-udp.log & \
	sleep infinity | target/release/vigil-sim --enroll '$(DEMO_ENROLLMENT_SECRET)' --count 10 --transport http --prefix demo-http >demo-data/sim-http.log & \
	target/release/vigil-agent --server http://127.0.0.1:3000 --enroll '$(DEMO_ENROLLMENT_SECRET)' \
	  --name demo-two-way --state demo-data/agent-two-way.json --callback-listen 127.0.0.1:8089 \
	  >demo-data/agent-two-way.log 2>&1 & \
	target/release/vigil-agent --server http://127.0.0.1:3000 --enroll '$(DEMO_ENROLLMENT_SECRET)' \
	  --name demo-one-way --state demo-data/agent-one-way.json >demo-data/agent-one-way.log 2>&1 & \
	echo "demo: http://127.0.0.1:3000 — sign in as admin / $(DEMO_PASSWORD); Ctrl-C stops the node and the fleet"; \
	wait

## ---- test --------------------------------------------------------------

lint:
	python3 .ci/imports.py
	python3 .ci/imports.py --self-test
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy -p server -p app -p protocol -p query -p agent -p testkit -p faults --all-targets -- -D warnings
	$(CARGO) clippy -p frontend -p app --target $(WASM_TARGET) -- -D warnings

# What the tests run, built once with one feature set: the test binaries and
# the vigil, vigil-agent, vigil-sim and vigil-test-ca binaries that the
# integration, end-to-end and contract tests start. A narrower `cargo build`
# would resolve other features and compile the dependencies again.
TEST_PACKAGES := -p app -p server -p protocol -p query -p agent -p testkit
test-build:
	$(CARGO) build $(TEST_PACKAGES) --bins --tests

# Unit and integration tests, on SQLite and on a throwaway PostgreSQL.
unit: test-build
	@pgdir=$$(mktemp -d); port=$$((20000 + RANDOM % 20000)); \
	trap '.ci/postgres.sh stop '"$$pgdir" EXIT; \
	url=$$(.ci/postgres.sh start $$pgdir $$port); \
	echo "PostgreSQL for tests at $$url"; \
	if command -v cargo-nextest >/dev/null; then run="$(CARGO) nextest run"; else run="$(CARGO) test"; fi; \
	VIGIL_TEST_POSTGRES_URL=$$url VIGIL_REQUIRE_POSTGRES=1 $$run $(TEST_PACKAGES)

# Playwright in headless Chromium; the tests start their own nodes (on
# SQLite, and on a throwaway PostgreSQL for the database-outage test).
e2e: site-debug test-build
	@pgdir=$$(mktemp -d); port=$$((20000 + RANDOM % 20000)); \
	trap '.ci/postgres.sh stop '"$$pgdir" EXIT; \
	url=$$(.ci/postgres.sh start $$pgdir $$port); \
	(cd end2end && VIGIL_TEST_POSTGRES_URL=$$url VIGIL_BIN=$(CURDIR)/target/debug/vigil \
	  VIGIL_SITE_ROOT=$(CURDIR)/$(SITE) npx playwright test)

# The API contract: schemathesis against a node, driven by the node's own
# OpenAPI document (installs schemathesis into .ci/venv when missing).
contract: test-build
	VIGIL_BIN=$(CURDIR)/target/debug/vigil .ci/contract.sh

test: test-deps lint unit e2e contract
	@echo "all tests passed"

## ---- benchmarks ----------------------------------------------------------

# `cargo bench -p server --bench $(1)` on SQLite and on a throwaway
# PostgreSQL on loopback, stopped when the bench ends.
define pg_bench
	@pgdir=$$(mktemp -d); port=$$((20000 + RANDOM % 20000)); \
	trap '.ci/postgres.sh stop '"$$pgdir" EXIT; \
	url=$$(.ci/postgres.sh start $$pgdir $$port); \
	VIGIL_TEST_POSTGRES_URL=$$url $(CARGO) bench -p server --bench $(1)
endef

# The queue benchmark on SQLite and on a throwaway PostgreSQL (figures in
# docs/PERFORMANCE.md).
bench-queue: test-deps
	$(call pg_bench,queue)

# Investigations over 100 000 products with their history, on SQLite and on
# a throwaway PostgreSQL (figures in docs/PERFORMANCE.md).
bench-investigations: test-deps
	$(call pg_bench,investigations)

# Alert evaluation at fleet scale: three nodes on a throwaway PostgreSQL,
# then one node on SQLite (about 12 minutes).
bench-alerts: test-deps
	$(call pg_bench,alerts)

# Centralization of 20 standalone sources (100 users, 2 000 items) into a
# fresh cluster database, on SQLite and a throwaway PostgreSQL.
bench-centralize: test-deps
	$(call pg_bench,centralize)

# HTTPS against plain HTTP in the same run: heartbeat and keep-alive rates
# (figures in docs/PERFORMANCE.md).
bench-tls: test-deps
	@command -v wrk >/dev/null || { SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq wrk >/dev/null; }
	$(CARGO) bench -p server --bench tls

# Fuzzing: each target 10 minutes (FUZZ_SECONDS), cargo-fuzz installed
# when missing; see bench/fuzz.sh.
fuzz:
	bench/fuzz.sh

# Faults under load (bench/faults): a PostgreSQL primary and standby behind
# proxies, three release nodes, 20 000 simulated products, 1 000 commands a
# minute and 50 headless consoles; the invariants are checked after each
# fault and the tables appended to FAULTS_OUT. Needs root for the full-disk
# tmpfs. `faults` runs each scenario once, `soak` all on a schedule.
SOAK_MINUTES ?= 30
FAULTS_OUT ?= target/faults.md
faults soak: test-deps
	$(CARGO) build --release -p server -p agent -p faults
	target/release/vigil-faults $(if $(filter soak,$@),--soak-minutes $(SOAK_MINUTES)) --out $(FAULTS_OUT) $(FAULTS_ARGS)

# The security benchmarks, each on its own fresh release node: wrong-password
# login floods (one account from one address; a name per request from 100
# addresses, so every attempt needs a hash), a UDP flood of unknown products
# beside one real product, and idle and slow-header connections held open
# past the idle timeout. They print their figures and a PASS/FAIL line; they
# report, they do not fail the run.
bench-security: build
	python3 bench/login_flood.py
	python3 bench/login_flood.py --sources 100 --many-users
	python3 bench/udp_flood.py
	python3 bench/conn_flood.py --hold 70

clean:
	$(CARGO) clean
	rm -rf data demo-data
