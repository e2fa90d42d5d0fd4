# pglinks. Run `make` (or `make help`) to list the targets.
#
# The two commands a new machine needs: `make demo` and `make test`; each
# installs what it needs first (scripts/deps.sh).

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

GO ?= go
# Inputs per fuzz target. A count, not a duration: Go 1.26's fuzzing
# coordinator can fail a target with "context deadline exceeded" when a
# duration ends while a worker is busy (go.dev/issue/75804, fixed in 1.27).
FUZZTIME ?= 30000x

# playwright-go finds the driver (scripts/deps.sh test puts it here) and node
# through these; the e2e harness reads the same variables.
PLAYWRIGHT_DRIVER_PATH ?= $(CURDIR)/.cache/playwright-driver
PLAYWRIGHT_NODEJS_PATH ?= $(or $(wildcard /usr/bin/node),$(shell command -v node 2>/dev/null))
export PLAYWRIGHT_DRIVER_PATH PLAYWRIGHT_NODEJS_PATH

# Tailwind's "caniuse-lite is outdated" notice is noise for a pinned build.
export BROWSERSLIST_IGNORE_OLD_DATA := 1
TAILWIND := npx --no-install tailwindcss -c tailwind.config.js -i static/css/input.css -o static/css/app.css --minify

# In CI, `make test` also proves the committed generated files are current.
ifeq ($(CI),true)
CI_CHECKS := check-generated
endif

.PHONY: help deps-demo deps-test generate css check-generated lint test fuzz e2e bench bench-go demo build ext

# The Redis foreign data wrapper is built with PGXS against the newest
# installed PostgreSQL (the one internal/pgtest runs) and installed into it.
PG_CONFIG ?= $(shell ls -d /usr/lib/postgresql/*/bin/pg_config 2>/dev/null | sort -V | tail -n1)
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
EXT_MAKE = $(MAKE) -C ext/pglinks_redis PG_CONFIG=$(PG_CONFIG) with_llvm=no

help: ## Show this help
	@echo 'Usage: make <target>'
	@echo
	@grep -E '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*?## "}; {printf "  %-16s %s\n", $$1, $$2}'

deps-demo: ## Install what the demo needs (PostgreSQL, redis-server, the Redis wrapper)
	scripts/deps.sh demo

deps-test: ## Install what the tests need (the demo's, the other PostgreSQL majors, chromium, playwright driver)
	scripts/deps.sh test

ext: ## Build the Redis foreign data wrapper (ext/pglinks_redis) and install it into PostgreSQL
	@[ -x "$(PG_CONFIG)" ] || { echo "ext: no pg_config under /usr/lib/postgresql/*/bin: run scripts/deps.sh demo (postgresql-server-dev-NN)"; exit 1; }
	$(EXT_MAKE)
	@if $(EXT_MAKE) -s installed-current 2>/dev/null; then \
		echo "ext: pglinks_redis is installed and current in $$($(PG_CONFIG) --pkglibdir)"; \
	else \
		$(SUDO) $(EXT_MAKE) install; \
	fi

generate: ## Generate Go code from templ files (views/*_templ.go)
	$(GO) tool templ generate

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

css: node_modules/.package-lock.json ## Build static/css/app.css with Tailwind (minified)
	$(TAILWIND)

check-generated: generate css ## Fail if the committed *_templ.go or app.css are stale
	@stale=$$(git diff --name-only -- views static/css; \
		git ls-files --others --exclude-standard -- 'views/*_templ.go' static/css/app.css); \
	if [ -n "$$stale" ]; then \
		echo "$$stale"; \
		echo; \
		echo "check-generated: the files above differ from what is committed (or were never committed)."; \
		echo "Run 'make generate css' and commit the results."; \
		exit 1; \
	fi; \
	echo "check-generated: views/*_templ.go and static/css/app.css are current"

lint: ## Run go vet and check gofmt (generated *_templ.go excluded)
	$(GO) vet ./...
	@unformatted=$$(find . \( -name node_modules -o -name '.*' ! -name . \) -prune -o \
		-name '*.go' ! -name '*_templ.go' -print | xargs -r gofmt -l); \
	if [ -n "$$unformatted" ]; then \
		echo "gofmt: these files need formatting (run gofmt -w):"; echo "$$unformatted"; exit 1; \
	fi

test: deps-test node_modules/.package-lock.json $(CI_CHECKS) lint ## Run all tests (race detector, e2e included) and a short fuzz run
	$(GO) test -race -count=1 -timeout 30m ./...
	@$(MAKE) fuzz

# One instrumented test binary per package, built one after another, then
# every target side by side: a fuzzing build instruments the standard library
# and every dependency too, and builds side by side each compiled all of it
# (192 s of a cold-cache CI run, BENCHMARKS.md).
fuzz: ## Run each Fuzz function under internal/ for FUZZTIME (default 30000x: inputs), side by side
	@dir=$$(mktemp -d); trap 'rm -rf "$$dir"' EXIT; n=0; pids=; \
	cache=$$($(GO) env GOCACHE)/fuzz; \
	pkgs=$$(grep -rlE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(' internal | xargs -r -n1 dirname | sort -u); \
	for pkgdir in $$pkgs; do \
		echo "$(GO) test -c -fuzz . ./$$pkgdir"; \
		$(GO) test -c -fuzz . -o "$$dir/$$(echo $$pkgdir | tr / _).test" "./$$pkgdir" || exit 1; \
	done; \
	for pkgdir in $$pkgs; do \
		bin="$$dir/$$(echo $$pkgdir | tr / _).test"; importpath=$$($(GO) list "./$$pkgdir"); \
		for fn in $$(sed -nE 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/p' $$pkgdir/*_test.go); do \
			n=$$((n + 1)); \
			echo "$$pkgdir: $$fn for $(FUZZTIME)"; \
			( rc=0; cd "$$pkgdir" && "$$bin" -test.run '^$$' -test.fuzz "^$$fn\$$" -test.fuzztime $(FUZZTIME) \
				-test.fuzzcachedir "$$cache/$$importpath" -test.timeout 10m > "$$dir/$$fn.log" 2>&1 || rc=$$?; \
			  echo $$rc > "$$dir/$$fn.rc" ) & pids="$$pids $$!"; \
		done; \
	done; \
	for pid in $$pids; do wait $$pid || true; done; failed=0; \
	for log in "$$dir"/*.log; do \
		[ -e "$$log" ] || continue; \
		fn=$$(basename "$$log" .log); \
		if [ "$$(cat "$$dir/$$fn.rc" 2>/dev/null)" != 0 ]; then failed=$$((failed + 1)); echo "--- $$fn failed:"; cat "$$log"; \
		else echo "$$fn: $$(grep -E 'execs:' "$$log" | tail -1 | sed -E 's/.*execs: ([0-9]+).*/\1 inputs/' || true)"; fi; \
	done; \
	echo "fuzz: $$n fuzz target(s) run side by side, $$failed failed"; \
	[ "$$failed" = 0 ]

e2e: deps-test node_modules/.package-lock.json ## Run the browser (e2e) tests only, verbose
	$(GO) test -count=1 -v ./e2e/

bench: ## Run the fleet benchmark harness (own clusters, real server); BENCHFLAGS=-quick etc.
	$(GO) run ./cmd/bench $(BENCHFLAGS)

bench-go: ## Run the Go micro-benchmarks
	$(GO) test -run '^$$' -bench . -benchmem ./...

# The demo runs the built binary, not `go run`: go run exits 1 on Ctrl-C
# even when the program stopped cleanly.
demo: deps-demo build ## Run the demo: throwaway PostgreSQL clusters + dashboard
	bin/web demo

build: ## Build the binary to bin/web
	$(GO) build -o bin/web ./cmd/web
