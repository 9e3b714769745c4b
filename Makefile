# taskmaster: build, run, test. Every target works on a fresh Debian 12 machine
# with Go; `make deps` installs what the tests need beyond Go.

GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
PKG       := github.com/taskmaster/taskmaster
LDFLAGS   := -s -w -X $(PKG)/internal/version.Version=$(VERSION)
BUILD     := CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)'
BINS      := bin/taskmasterd bin/taskmasterctl

.PHONY: all build run test unit e2e fuzz vet fmt bench bench-quick bench-deps image demo-image compose-plugin deps docker-up clean

all: build

build: $(BINS)

bin/%: FORCE
	$(BUILD) -o $@ ./cmd/$*

FORCE:

## run: start taskmasterd in the foreground on the bundled example jobs (127.0.0.1:7777).
run: build
	./bin/taskmasterd -jobs examples/jobs -listen 127.0.0.1:7777

## test: every test: vet, unit tests with -race, a short fuzz run, the e2e suite.
test: vet unit fuzz e2e

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /e2e)

## fuzz: a short run of each fuzz target (go test -fuzz runs one at a time).
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 10s -fuzzminimizetime 2s ./ctlproto
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 10s -fuzzminimizetime 2s ./jobs/jobfile

e2e: build
	$(GO) test -count=1 -timeout 10m ./e2e/...

## bench: taskmasterd side by side with supervisord, tini, s6 and a raw
## posix_spawn loop, and the Go micro-benchmarks; prints a markdown report and
## writes the spawn chart (docs/benchmarks.md explains it all). Needs root.
## BENCHFLAGS passes flags on: BENCHFLAGS='-only spawn,stop -o /tmp/bench.md'.
BENCH_TOOLS := bin/bench-spawnloop bin/bench-orphanstorm
BENCH       := $(GO) run ./bench/compare -root $(CURDIR)

bench: build bench-deps $(BENCH_TOOLS)
	$(BENCH) -svg docs/benchmarks-spawn.svg $(BENCHFLAGS)

## bench-quick: a smoke run of every benchmark (CI runs it): checks that the
## suite works, not numbers to quote.
bench-quick: build bench-deps $(BENCH_TOOLS)
	$(BENCH) -quick -svg $(or $(TMPDIR),/tmp)/taskmaster-bench-spawn.svg $(BENCHFLAGS)

## bench-deps: what the benchmarks compare against, from Debian's packages.
bench-deps:
	@missing=""; \
	  command -v supervisord >/dev/null || missing="$$missing supervisor"; \
	  command -v tini >/dev/null || missing="$$missing tini"; \
	  command -v s6-svscan >/dev/null || missing="$$missing s6"; \
	  command -v cc >/dev/null || missing="$$missing gcc libc6-dev"; \
	  if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  fi

bin/bench-%: bench/baseline/%.c
	@mkdir -p bin
	cc -O2 -Wall -Wextra -o $@ $<

## deps: install what the tests need beyond Go (Debian packages).
deps:
	@missing=""; \
	  [ -x /bin/busybox ] || missing="$$missing busybox-static"; \
	  command -v docker-compose >/dev/null || missing="$$missing docker-compose"; \
	  command -v unshare >/dev/null || missing="$$missing util-linux"; \
	  if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  fi

## docker-up: make sure a Docker Engine answers (start dockerd if none does).
docker-up:
	@if ! docker info >/dev/null 2>&1; then \
	  echo "starting dockerd"; \
	  (service docker start >/dev/null 2>&1 || (nohup dockerd >/tmp/dockerd.log 2>&1 &)); \
	  for i in $$(seq 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done; \
	  docker info >/dev/null 2>&1 || { echo "no Docker Engine answers"; exit 1; }; \
	fi

clean:
	rm -rf bin

## image: the taskmaster image (FROM scratch: taskmasterd, taskmasterctl) as taskmaster:local.
IMAGE      ?= taskmaster:local
DEMO_IMAGE ?= taskmaster-demo:local

image: build
	docker build -t $(IMAGE) --build-arg VERSION=$(VERSION) .

## demo-image: taskmaster:local plus busybox (sh, httpd, ...) as taskmaster-demo:local.
demo-image: image
	@[ -x /bin/busybox ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static; }
	cp /bin/busybox bin/busybox
	docker build -t $(DEMO_IMAGE) --build-arg BASE=$(IMAGE) -f deploy/demo/Dockerfile .

## compose-plugin: build and install the `docker compose` v2 plugin from the Go module proxy, unless `docker compose` works.
COMPOSE_VERSION ?= v2.28.1
COMPOSE_PLUGIN  ?= /usr/local/lib/docker/cli-plugins/docker-compose

compose-plugin:
	@if docker compose version >/dev/null 2>&1; then \
	  echo "docker compose is installed: $$(docker compose version)"; \
	else \
	  set -e; \
	  dir=$$($(GO) mod download -json github.com/docker/compose/v2@$(COMPOSE_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$$/\1/p'); \
	  [ -n "$$dir" ] || { echo "cannot download github.com/docker/compose/v2@$(COMPOSE_VERSION)"; exit 1; }; \
	  echo "building docker compose $(COMPOSE_VERSION) (a minute or two)"; \
	  mkdir -p $(dir $(COMPOSE_PLUGIN)); \
	  cd "$$dir" && CGO_ENABLED=0 GOFLAGS=-mod=readonly $(GO) build -trimpath \
	    -ldflags '-s -w -X github.com/docker/compose/v2/internal.Version=$(COMPOSE_VERSION)' \
	    -o $(COMPOSE_PLUGIN) ./cmd; \
	  docker compose version; \
	fi
