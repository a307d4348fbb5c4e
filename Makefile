# bucket-relay — the two commands of the README: `make run` and `make test`.
# On a fresh Debian machine with Swift they install what is missing (apt-get), build, and run.

SWIFT        ?= swift
PORT         ?= 8080
HOST         ?= 127.0.0.1
RECEIVER_PORT ?= 9000
DATA_DIR     ?= data
APT_PACKAGES := libcurl4-openssl-dev libsqlite3-dev libnats-dev nats-server pkg-config python3 python3-yaml
SUDO         := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps build release run test lint format clean

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

release: deps
	$(SWIFT) build -c release --product bucket-relay

## run: the relay on the shipped rules/ (on $(HOST):$(PORT)), with the example receiver from examples/ on port
## $(RECEIVER_PORT). Override with e.g. `make run HOST=0.0.0.0 PORT=8081 RECEIVER_PORT=9001 DATA_DIR=/tmp/relay`.
run: release
	@bin=$$($(SWIFT) build -c release --show-bin-path)/bucket-relay; \
	python3 examples/receiver/receiver.py --port $(RECEIVER_PORT) & receiver=$$!; \
	trap 'kill $$receiver 2>/dev/null' EXIT INT TERM; \
	echo "example receiver on http://127.0.0.1:$(RECEIVER_PORT) (pid $$receiver)"; \
	echo "relay on http://$(HOST):$(PORT)/minio-event — try:"; \
	echo "  curl -sS -d @examples/events/minio-put-image.json http://127.0.0.1:$(PORT)/minio-event"; \
	RECEIVER_URL=$${RECEIVER_URL:-http://127.0.0.1:$(RECEIVER_PORT)} \
	$$bin serve --host $(HOST) --port $(PORT) --rules rules --data-dir $(DATA_DIR)

## test: every test (Swift Testing), real server and receivers on loopback.
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	@py=$$(for p in python3 /usr/bin/python3; do $$p -c 'import yaml' 2>/dev/null && echo $$p && break; done); \
	$${py:-python3} Tests/compose/check_compose.py --binary "$$($(SWIFT) build --show-bin-path)/bucket-relay"

lint:
	$(SWIFT) format lint --strict --recursive Sources Tests

format:
	$(SWIFT) format format --in-place --recursive Sources Tests

clean:
	rm -rf .build
