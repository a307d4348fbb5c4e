# bucket-relay — the two commands of the README: `make run` and `make test`.
# On a fresh Debian machine with a Swift 6.2+ toolchain they install what is missing (apt-get), build, and run.

SHELL        := /bin/bash
SWIFT        ?= swift
PORT         ?= 8080
HOST         ?= 127.0.0.1
RECEIVER_PORT ?= 9000
DATA_DIR     ?= data
APT_PACKAGES := libcurl4-openssl-dev libsqlite3-dev libnats-dev nats-server pkg-config python3 python3-yaml
SUDO         := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# The release binary, linked with the Swift runtime statically: it needs only libcurl and SQLite from Debian.
RELEASE_FLAGS := -c release --static-swift-stdlib

.PHONY: deps build release run test check-release lint format clean

## deps: install the system packages the build needs (only the missing ones).
deps:
	@missing=""; for p in $(APT_PACKAGES); do \
		dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build

## release: .build/release/bucket-relay, the binary to copy to a server (see README, "The binary").
release: deps
	$(SWIFT) build $(RELEASE_FLAGS) --product bucket-relay

## run: the relay on the shipped rules/ (on $(HOST):$(PORT)), with the example receiver from examples/ on port
## $(RECEIVER_PORT). Override with e.g. `make run HOST=0.0.0.0 PORT=8081 RECEIVER_PORT=9001 DATA_DIR=/tmp/relay`.
## Both run until Ctrl-C; when either one stops (or cannot start), the other is stopped. make fails unless the relay
## stopped cleanly (exit 0: it was asked to stop, e.g. SIGTERM).
run: release
	@set -u; \
	bin="$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/bucket-relay"; \
	ready=$$(mktemp -u /tmp/bucket-relay-receiver.XXXXXX); \
	python3 examples/receiver/receiver.py --port $(RECEIVER_PORT) --ready-file "$$ready" & receiver=$$!; \
	relay=""; \
	trap 'kill $$receiver $$relay 2>/dev/null; wait; rm -f "$$ready"' EXIT; \
	trap 'exit 130' INT TERM; \
	for i in $$(seq 100); do \
		[ -e "$$ready" ] && break; \
		kill -0 $$receiver 2>/dev/null || break; \
		sleep 0.1; \
	done; \
	if [ ! -e "$$ready" ]; then \
		echo "make run: the example receiver did not start on port $(RECEIVER_PORT) (see its message above);" \
			"stop what holds the port or pick another one: make run RECEIVER_PORT=9001" >&2; \
		exit 1; \
	fi; \
	echo "example receiver on http://127.0.0.1:$(RECEIVER_PORT) (pid $$receiver)"; \
	echo "relay on http://$(HOST):$(PORT)/minio-event — try:"; \
	echo "  curl -sS -d @examples/events/minio-put-image.json http://127.0.0.1:$(PORT)/minio-event"; \
	RECEIVER_URL=$${RECEIVER_URL:-http://127.0.0.1:$(RECEIVER_PORT)} \
		"$$bin" serve --host $(HOST) --port $(PORT) --rules rules --data-dir $(DATA_DIR) & relay=$$!; \
	wait -n $$receiver $$relay; status=$$?; \
	if kill -0 $$relay 2>/dev/null; then \
		echo "make run: the example receiver stopped (exit $$status); stopping the relay" >&2; \
		exit $$(( status == 0 ? 1 : status )); \
	elif [ $$status -eq 0 ]; then \
		echo "make run: the relay stopped; stopping the example receiver"; \
	else \
		echo "make run: the relay stopped (exit $$status); stopping the example receiver" >&2; \
		exit $$status; \
	fi

## test: every test (Swift Testing), real server and receivers on loopback, the compose file's wiring, and that
## `make run` fails as a whole (Tests/release/check_make_run.py, with a stub for the build).
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	@py=$$(for p in python3 /usr/bin/python3; do $$p -c 'import yaml' 2>/dev/null && echo $$p && break; done); \
	$${py:-python3} Tests/compose/check_compose.py --binary "$$($(SWIFT) build --show-bin-path)/bucket-relay"
	python3 Tests/release/check_make_run.py --binary "$$($(SWIFT) build --show-bin-path)/bucket-relay"

## check-release: the release binary links the Swift runtime statically and starts (Tests/release/check_static.sh).
check-release: release
	bash Tests/release/check_static.sh "$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/bucket-relay"

lint:
	$(SWIFT) format lint --strict --recursive Sources Tests

format:
	$(SWIFT) format format --in-place --recursive Sources Tests

clean:
	rm -rf .build
