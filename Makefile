# taskmaster: build, run, test. Every target works on a fresh Debian 12 machine
# with Go; `make deps` installs what the tests need beyond Go.

GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
PKG       := github.com/taskmaster/taskmaster
# The runtime starts without async preemption (so that every SIGURG is one
# to forward: docs/pid1.md), linked in rather than set by a re-exec.
NOPREEMPT := -X runtime.godebugDefault=asyncpreemptoff=1 -X $(PKG)/sigcatch.linkedGODEBUG=asyncpreemptoff=1
LDFLAGS   := -s -w -X $(PKG)/internal/version.Version=$(VERSION) $(NOPREEMPT)
BUILD     := CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)'
BINS      := bin/taskmasterd bin/taskmasterctl

.PHONY: all build run test unit e2e fuzz vet fmt proto proto-check protoc-gen-go swarm-up swarm-deploy swarm-down bench bench-quick bench-deps image demo-image compose-plugin deps deb-deps docker-up clean

all: build

build: $(BINS)

bin/%: FORCE
	$(BUILD) -o $@ ./cmd/$*

FORCE:

## run: start taskmasterd in the foreground on the bundled example jobs
## (control 127.0.0.1:7777, dashboard http://127.0.0.1:7780/).
run: build
	@echo "dashboard: http://127.0.0.1:7780/  (control: bin/taskmasterctl, 127.0.0.1:7777; stop with Ctrl-C)"
	./bin/taskmasterd -jobs examples/jobs -listen 127.0.0.1:7777 -http 127.0.0.1:7780

## test: every test: vet, unit tests with -race, a short fuzz run, the e2e suite.
test: vet unit fuzz e2e

vet: proto-check
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...

## proto: regenerate the Go code of the fleet's protobuf messages
## (fleet/fleetpb) with Debian's protoc and the protoc-gen-go of the
## google.golang.org/protobuf version go.mod requires (make deps installs both).
PROTO         := fleet/fleetpb/messages.proto
PROTOBUF_VER   = $(shell $(GO) list -m -f '{{.Version}}' google.golang.org/protobuf)
PROTOC_GEN_GO := $(or $(shell $(GO) env GOBIN),$(shell $(GO) env GOPATH)/bin)/protoc-gen-go
PROTOC         = protoc --plugin=protoc-gen-go=$(PROTOC_GEN_GO) --go_opt=paths=source_relative

proto:
	$(PROTOC) --go_out=. $(PROTO)

## proto-check: fail when the committed generated code is not what make
## proto makes of the .proto (vet runs it, and so CI).
proto-check:
	@command -v protoc >/dev/null && [ -x $(PROTOC_GEN_GO) ] || { echo "proto-check needs protoc and $(PROTOC_GEN_GO): run make deps"; exit 1; }
	@tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	  $(PROTOC) --go_out=$$tmp $(PROTO) && \
	  cmp -s $$tmp/$(PROTO:.proto=.pb.go) $(PROTO:.proto=.pb.go) || \
	  { echo "$(PROTO:.proto=.pb.go) is stale or was edited: run make proto and commit"; exit 1; }

unit:
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /e2e)

## fuzz: a short run of each fuzz target (go test -fuzz runs one at a time).
## The budget is a count of executions (about 10 s each on a quiet machine),
## not a duration: Go 1.26's fuzzing coordinator can report its own
## -fuzztime deadline as a failure, "context deadline exceeded" with no
## failing input, on a busy machine (go.dev/issue/75804, fixed in Go 1.27).
FUZZEXECS := 100000x
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZEXECS) -fuzzminimizetime 2s ./ctlproto
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZEXECS) -fuzzminimizetime 2s ./jobs/jobfile
	$(GO) test -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $(FUZZEXECS) -fuzzminimizetime 2s ./fleet/wire

e2e: build
	$(GO) test -count=1 -timeout 10m ./e2e/...

## bench: taskmasterd side by side with supervisord, tini, s6 and a raw
## posix_spawn loop, and the Go micro-benchmarks; prints a markdown report and
## writes the spawn chart (docs/benchmarks.md explains it all). Needs root.
## BENCHFLAGS passes flags on: BENCHFLAGS='-only spawn,stop -o /tmp/bench.md'.
BENCH_TOOLS := bin/bench-spawnloop bin/bench-orphanstorm bin/bench-goinit
BENCH       := $(GO) run ./bench/compare -root $(CURDIR)

bench: build bench-deps $(BENCH_TOOLS)
	$(BENCH) -svg docs/benchmarks-spawn.svg $(BENCHFLAGS)

## bench-quick: a smoke run of every benchmark (CI runs it): checks that the
## suite works, not numbers to quote.
bench-quick: build bench-deps $(BENCH_TOOLS)
	$(BENCH) -quick -svg $(or $(TMPDIR),/tmp)/taskmaster-bench-spawn.svg $(BENCHFLAGS)

## bench-deps: what the benchmarks compare against, from Debian's packages
## (busybox: the health section's exec checks and Docker image).
bench-deps:
	@missing=""; \
	  command -v supervisord >/dev/null || missing="$$missing supervisor"; \
	  command -v tini >/dev/null || missing="$$missing tini"; \
	  command -v s6-svscan >/dev/null || missing="$$missing s6"; \
	  command -v cc >/dev/null || missing="$$missing gcc libc6-dev"; \
	  [ -x /bin/busybox ] || missing="$$missing busybox-static"; \
	  if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  fi

bin/bench-%: bench/baseline/%.c
	@mkdir -p bin
	cc -O2 -Wall -Wextra -o $@ $<

# The least Go init of one command, built as taskmasterd is (section 8).
bin/bench-goinit: FORCE
	$(BUILD) -o $@ ./bench/baseline/goinit

## deps: prepare a fresh Debian 12 machine (with Go and a Docker Engine) for
## `make test`: the Debian packages of DEB_DEPS, then the tools of TOOL_DEPS,
## which Debian does not package. What is there already is neither installed
## nor built again, so that deps takes a second on a prepared machine.

# One line per Debian package: WHAT:PACKAGE installs PACKAGE unless WHAT, a
# command (looked up in PATH) or an absolute path, is there.
DEB_DEPS += /bin/busybox:busybox-static # the demo image's sh, httpd, sleep...
DEB_DEPS += docker-compose:docker-compose # compose 1.29 for the compose e2e test
DEB_DEPS += setsid:util-linux # e2e: a job's child leaving its process group
DEB_DEPS += mount:mount # e2e: a /proc for each new PID namespace
DEB_DEPS += chromium:chromium # e2e: the dashboard in a real, headless browser
DEB_DEPS += protoc:protobuf-compiler # make proto: the fleet's protobuf messages

# One line per tool Debian does not package: a target that installs it and
# does nothing when it is there.
TOOL_DEPS += compose-plugin # docker compose v2 for the compose e2e test
TOOL_DEPS += protoc-gen-go # make proto: protoc's Go generator, at go.mod's protobuf version

# (After the lists: make expands a rule's prerequisites where it reads them.)
deps: deb-deps $(TOOL_DEPS)

deb-deps:
	@missing=""; \
	  for dep in $(DEB_DEPS); do \
	    what=$${dep%%:*}; \
	    case $$what in /*) [ -e "$$what" ] ;; *) command -v "$$what" >/dev/null ;; esac || missing="$$missing $${dep#*:}"; \
	  done; \
	  if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  fi

## protoc-gen-go: protoc's Go generator, at the version of
## google.golang.org/protobuf that go.mod requires, so that make proto
## writes what the runtime library expects.
protoc-gen-go:
	@[ "$$($(PROTOC_GEN_GO) --version 2>/dev/null)" = "protoc-gen-go $(PROTOBUF_VER)" ] || \
	  GOFLAGS=-buildvcs=false $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOBUF_VER)

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

## compose-plugin: the `docker compose` v2 plugin, which Debian 12 does not
## package, built from the Go module proxy (github.com/docker/compose/v2 at
## COMPOSE_VERSION) and installed as COMPOSE_PLUGIN. CI requires it, as it
## does docker-compose 1.29: the compose e2e test runs the compose file with
## each implementation, and v2 is the one most users have (1.29 is no longer
## maintained, but it is the one Debian 12 packages).
## A fresh build (empty module and build caches) took 2 minutes on two
## shared cores: half a minute to download 500 MB of modules, then 3 minutes
## of CPU compiling; more when the cores are busy. So each version is built
## once per machine: the binary is kept in TOOLS_CACHE, named after its
## version (no dependency on this Makefile: a fresh clone does not rebuild
## it), and the build reuses Go's module and build caches (a rebuild with
## them warm takes seconds). Nothing is done when COMPOSE_PLUGIN is that
## version already, or when another `docker compose` works (one from
## Docker's packages, say) and COMPOSE_PLUGIN is not there.
COMPOSE_VERSION ?= v2.28.1
COMPOSE_PLUGIN  ?= /usr/local/lib/docker/cli-plugins/docker-compose
TOOLS_CACHE     ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/taskmaster
COMPOSE_BUILT   := $(TOOLS_CACHE)/docker-compose-$(COMPOSE_VERSION)

compose-plugin:
	@if [ -x $(COMPOSE_PLUGIN) ]; then \
	  have=v$$($(COMPOSE_PLUGIN) version --short 2>/dev/null); \
	elif docker compose version >/dev/null 2>&1; then \
	  echo "docker compose is installed: $$(docker compose version)"; exit 0; \
	fi; \
	if [ "$$have" = "$(COMPOSE_VERSION)" ]; then \
	  echo "docker compose $(COMPOSE_VERSION) is installed"; exit 0; \
	fi; \
	set -e; \
	if [ ! -x $(COMPOSE_BUILT) ]; then \
	  dir=$$($(GO) mod download -json github.com/docker/compose/v2@$(COMPOSE_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$$/\1/p'); \
	  [ -n "$$dir" ] || { echo "cannot download github.com/docker/compose/v2@$(COMPOSE_VERSION)"; exit 1; }; \
	  echo "building docker compose $(COMPOSE_VERSION) into $(COMPOSE_BUILT) (about 2 minutes on a fresh machine; once per version)"; \
	  mkdir -p $(TOOLS_CACHE); \
	  (cd "$$dir" && CGO_ENABLED=0 GOFLAGS='-mod=readonly -buildvcs=false' $(GO) build -trimpath \
	    -ldflags '-s -w -X github.com/docker/compose/v2/internal.Version=$(COMPOSE_VERSION)' \
	    -o $(COMPOSE_BUILT).tmp ./cmd); \
	  mv -f $(COMPOSE_BUILT).tmp $(COMPOSE_BUILT); \
	fi; \
	mkdir -p $(dir $(COMPOSE_PLUGIN)); \
	cp $(COMPOSE_BUILT) $(COMPOSE_PLUGIN).tmp && mv -f $(COMPOSE_PLUGIN).tmp $(COMPOSE_PLUGIN); \
	echo "installed $(COMPOSE_PLUGIN): $$($(COMPOSE_PLUGIN) version)"

## swarm-up: the fleet as a Docker Swarm stack (deploy/swarm/stack.yml):
## builds the demo image, then swarm-deploy. swarm-down removes it.
## deploy/swarm/README.md explains it all.
SWARM_STACK  ?= taskmaster
SWARM_DIR    ?= $(TOOLS_CACHE)/swarm-$(SWARM_STACK)
TASKMASTERD  ?= bin/taskmasterd
AGENT_REPLICAS ?= 2
TASKMASTER_FLEET_PING ?= 10s

swarm-up: demo-image swarm-deploy

## swarm-deploy: deploy the stack from the image already built
## (TASKMASTER_DEMO_IMAGE, default taskmaster-demo:local): a single-node
## swarm is initialised if this engine is in none (and remembered, so that
## swarm-down leaves it); the agents' secret, the agents file, and the
## manager's certificate (whose fingerprint the agents pin) are made once
## in SWARM_DIR.
swarm-deploy:
	@set -e; mkdir -p $(SWARM_DIR); \
	if [ "$$(docker info -f '{{.Swarm.LocalNodeState}}')" != active ]; then \
	  docker swarm init --advertise-addr 127.0.0.1 >/dev/null; touch $(SWARM_DIR)/swarm-created-here; \
	  echo "initialised a single-node swarm (swarm-down leaves it)"; \
	fi; \
	[ -s $(SWARM_DIR)/agent-secret ] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > $(SWARM_DIR)/agent-secret; \
	sum=$$(sha256sum < $(SWARM_DIR)/agent-secret | cut -d' ' -f1); \
	printf '[{"id":"*","secret_sha256":"%s","allowed_ips":["10.0.0.0/8","172.16.0.0/12","192.168.0.0/16"]}]\n' $$sum > $(SWARM_DIR)/agents.json; \
	fp=$$($(TASKMASTERD) -state $(SWARM_DIR)/state -fleet-fingerprint-print); \
	cp $(SWARM_DIR)/state/fleet/manager.crt $(SWARM_DIR)/state/fleet/manager.key $(SWARM_DIR)/; \
	FLEET_DIR=$(SWARM_DIR) TASKMASTER_FLEET_FINGERPRINT=$$fp AGENT_REPLICAS=$(AGENT_REPLICAS) \
	  TASKMASTER_FLEET_PING=$(TASKMASTER_FLEET_PING) TASKMASTER_DEMO_IMAGE=$(or $(TASKMASTER_DEMO_IMAGE),$(DEMO_IMAGE)) \
	  docker stack deploy --resolve-image never -c deploy/swarm/stack.yml $(SWARM_STACK); \
	echo "fleet manager fingerprint $$fp; agents: docker exec \$$(docker ps -q -f label=com.docker.swarm.service.name=$(SWARM_STACK)_manager) taskmasterctl agents"

## swarm-down: remove the stack, wait until its containers and network are
## gone, and leave the swarm if swarm-deploy initialised it.
swarm-down:
	@-docker stack rm $(SWARM_STACK)
	@for i in $$(seq 120); do \
	  [ -z "$$(docker ps -aq -f label=com.docker.stack.namespace=$(SWARM_STACK))$$(docker network ls -q -f label=com.docker.stack.namespace=$(SWARM_STACK))" ] && break; sleep 0.5; \
	done
	@if [ -e $(SWARM_DIR)/swarm-created-here ]; then docker swarm leave --force >/dev/null && rm -f $(SWARM_DIR)/swarm-created-here && echo "left the swarm swarm-deploy initialised"; fi
