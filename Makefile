# The one test command (README, .ci/run): formatting, vet, staticcheck, all tests (and
# the portable twins of the assembly), the concurrent packages under the race
# detector, and a short fuzzing smoke run of every fuzz target.
GO ?= go
RACE_PKGS := ./ring/... ./shard/... ./hist/... ./internal/... ./ingest/... ./engine/... ./sinks/...
FUZZ_TIME ?= 3000x
STATICCHECK_VERSION := v0.8.2

# mad -version and /status: the version and commit, from git, linked in
# (engine/version.go), so that they are right however the go command
# stamps the build (it does not with -buildvcs=false, nor in a git
# worktree). Dirty means what it means to the go command: git status shows
# anything.
DIRTY = $(shell test -z "$$(git status --porcelain 2>/dev/null)" || echo -dirty)
VERSION ?= $(shell git describe --tags --always 2>/dev/null)$(DIRTY)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)$(DIRTY)
LDFLAGS = -X github.com/gomad/mad/engine.Version=$(VERSION) -X github.com/gomad/mad/engine.Commit=$(COMMIT)
BIN ?= bin/mad
# More linker flags for build (make image strips the symbol table: -s -w).
EXTRA_LDFLAGS ?=

.PHONY: build test fmt-check vet lint unit race race-e2e fuzz-smoke bench bench-e2e goals pgo

test: fmt-check vet lint unit race fuzz-smoke

# The daemon, stamped with its version and commit.
build:
	$(GO) build -ldflags '$(LDFLAGS) $(EXTRA_LDFLAGS)' -o $(BIN) ./cmd/mad

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

lint:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

# The tests run the code the daemon ships: compiled with the daemon's profile (cmd/mad/default.pgo,
# see pgo below); the race and purego runs compile without it.
unit:
	$(GO) test -count=1 -shuffle=on -pgo=$(CURDIR)/cmd/mad/default.pgo ./...
	$(GO) test -count=1 -tags purego ./ingest/statsd ./internal/prefetch

race:
	$(GO) test -count=1 -race -short $(RACE_PKGS)

# The in-process end-to-end tests under the race detector, long ones included.
race-e2e:
	$(GO) test -count=1 -race ./engine ./cmd/mad

fuzz-smoke:
	$(GO) test -run '^$$' -fuzz '^FuzzDifferential$$' -fuzztime $(FUZZ_TIME) -fuzzminimizetime 1s ./shard
	$(GO) test -run '^$$' -fuzz '^FuzzParseKey$$' -fuzztime 100000x -fuzzminimizetime 1s ./internal/sample
	$(GO) test -run '^$$' -fuzz '^FuzzSortBuckets$$' -fuzztime 100000x -fuzzminimizetime 1s ./hist
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 100000x -fuzzminimizetime 1s ./ingest/statsd
	$(GO) test -run '^$$' -fuzz '^FuzzParseLine$$' -fuzztime 100000x -fuzzminimizetime 1s ./ingest/statsd
	$(GO) test -run '^$$' -fuzz '^FuzzRelayKeys$$' -fuzztime 100000x -fuzzminimizetime 1s ./ingest/statsd
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 20000x -fuzzminimizetime 1s ./internal/hocon
	$(GO) test -run '^$$' -fuzz '^FuzzAppend$$' -fuzztime 20000x -fuzzminimizetime 1s ./internal/jsonstr
	$(GO) test -run '^$$' -fuzz '^FuzzReadEscape$$' -fuzztime 20000x -fuzzminimizetime 1s ./internal/jsonstr
	$(GO) test -run '^$$' -fuzz '^FuzzReplaceLoneSurrogates$$' -fuzztime 20000x -fuzzminimizetime 1s ./internal/jsonstr
	$(GO) test -run '^$$' -fuzz '^FuzzReader$$' -fuzztime 20000x -fuzzminimizetime 1s ./internal/pbwire
	$(GO) test -run '^$$' -fuzz '^FuzzZstdMost$$' -fuzztime 20000x -fuzzminimizetime 1s ./internal/bounded
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 20000x -fuzzminimizetime 1s ./internal/javanum
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 20000x -fuzzminimizetime 1s ./ingest/promrw
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeV2$$' -fuzztime 20000x -fuzzminimizetime 1s ./ingest/promrw
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 500x -fuzzminimizetime 1s ./ingest/otlp
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 2000x -fuzzminimizetime 1s ./ingest/otlp/otlpref
	$(GO) test -run '^$$' -fuzz '^FuzzAppendDouble$$' -fuzztime 20000x -fuzzminimizetime 1s ./internal/javanum
	$(GO) test -run '^$$' -fuzz '^FuzzJavaDouble$$' -fuzztime 2000x -fuzzminimizetime 1s ./ingest/otlp/otlpref
	$(GO) test -run '^$$' -fuzz '^FuzzParseTimeout$$' -fuzztime 20000x -fuzzminimizetime 1s ./internal/grpcunary
	$(GO) test -run '^$$' -fuzz '^FuzzReadMessage$$' -fuzztime 20000x -fuzzminimizetime 1s ./internal/grpcunary
	$(GO) test -run '^$$' -fuzz '^FuzzEncodeMessage$$' -fuzztime 20000x -fuzzminimizetime 1s ./internal/grpcunary
	$(GO) test -run '^$$' -fuzz '^FuzzIsolation$$' -fuzztime 20000x -fuzzminimizetime 1s ./internal/gunzip
	$(GO) test -run '^$$' -fuzz '^FuzzTranscode$$' -fuzztime 20000x -fuzzminimizetime 1s ./ingest/otlp/otlpjson
	$(GO) test -run '^$$' -fuzz '^FuzzApply$$' -fuzztime 20000x -fuzzminimizetime 1s ./internal/transform
	$(GO) test -run '^$$' -fuzz '^FuzzJavaReplaceAll$$' -fuzztime 20000x -fuzzminimizetime 1s ./internal/transform
	$(GO) test -run '^$$' -fuzz '^FuzzRewriterCache$$' -fuzztime 5000x -fuzzminimizetime 1s ./ingest
	$(GO) test -run '^$$' -fuzz '^FuzzUnzstd$$' -fuzztime 2000x -fuzzminimizetime 1s ./ingest
	$(GO) test -run '^$$' -fuzz '^FuzzCollectd$$' -fuzztime 20000x -fuzzminimizetime 1s ./ingest/collectd
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeV1$$' -fuzztime 20000x -fuzzminimizetime 1s ./ingest/clientpb
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeV2$$' -fuzztime 20000x -fuzzminimizetime 1s ./ingest/clientpb
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeV3$$' -fuzztime 20000x -fuzzminimizetime 1s ./ingest/clientpb
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 20000x -fuzzminimizetime 1s ./ingest/partials
	$(GO) test -run '^$$' -fuzz '^FuzzGraphite$$' -fuzztime 20000x -fuzzminimizetime 1s ./ingest/graphite
	$(GO) test -run '^$$' -fuzz '^FuzzTelegraf$$' -fuzztime 20000x -fuzzminimizetime 1s ./ingest/telegraf
	$(GO) test -run '^$$' -fuzz '^FuzzStatsD$$' -fuzztime 20000x -fuzzminimizetime 1s ./fuzz
	$(GO) test -run '^$$' -fuzz '^FuzzGraphite$$' -fuzztime 20000x -fuzzminimizetime 1s ./fuzz
	$(GO) test -run '^$$' -fuzz '^FuzzTelegraf$$' -fuzztime 20000x -fuzzminimizetime 1s ./fuzz
	$(GO) test -run '^$$' -fuzz '^FuzzCollectd$$' -fuzztime 20000x -fuzzminimizetime 1s ./fuzz
	$(GO) test -run '^$$' -fuzz '^FuzzClientV1$$' -fuzztime 20000x -fuzzminimizetime 1s ./fuzz
	$(GO) test -run '^$$' -fuzz '^FuzzClientV2$$' -fuzztime 20000x -fuzzminimizetime 1s ./fuzz
	$(GO) test -run '^$$' -fuzz '^FuzzClientV3$$' -fuzztime 20000x -fuzzminimizetime 1s ./fuzz
	$(GO) test -run '^$$' -fuzz '^FuzzRemoteWrite$$' -fuzztime 20000x -fuzzminimizetime 1s ./fuzz
	$(GO) test -run '^$$' -fuzz '^FuzzOTLP$$' -fuzztime 2000x -fuzzminimizetime 1s ./fuzz

# Microbenchmarks for BENCHMARKS.md (-count=6 for benchstat).
bench:
	$(GO) test -run '^$$' -bench . -benchtime=2000000x -count=6 ./shard ./hist ./ring $$($(GO) list ./internal/... | grep -v /grpcunary) | tee bench.out
	$(GO) test -run '^$$' -bench . -benchtime=1s -count=6 ./internal/grpcunary ./ingest/otlp ./ingest/otlp/otlpjson | tee -a bench.out
	$(GO) test -run '^$$' -bench . -count=6 ./ingest/statsd | tee -a bench.out
	$(GO) test -run '^$$' -bench . -benchtime=20x -count=6 ./engine/pipeline | tee -a bench.out

# End-to-end: mad and every peer on S1, S2, the rate ladder, S3 and latency (about 35 minutes;
# installs missing peers into ~/.cache/madbench; wants an otherwise idle machine).
bench-e2e:
	$(GO) run ./cmd/madbench all -md bench/results/all.md -svg bench/results/all.svg

# Issue 18's goals in one run: the host's probe, the in-process pipeline, the tagged emission,
# S1 against collectd in alternating order and S2, with medians and fastest runs (about five
# minutes; wants an otherwise idle machine and collectd, which madbench installs), into
# bench/results/goals-COMMIT.txt.
goals:
	bash bench/goals.sh

# The profile of the daemon's profile-guided build (cmd/mad/default.pgo, which go build and
# go install use by themselves): CPU profiles of a mad built from this tree, taken through
# madbench runs of S1 (untagged over UDP at 10 000 and 100 000 names, tagged, over TCP), S2 at
# 1 M series, S3's large V3 cell and small V3 and remote-write cells, and OTLP (gRPC and HTTP),
# merged. Each kind of run takes roughly the same CPU (a few seconds to ten), so that none
# decides alone which calls are hot. Regenerate it after changing a hot path (about five
# minutes; wants an otherwise idle machine). The benchmarks of BENCHMARKS.md that measure the
# daemon's code in process take it with -pgo=$$PWD/cmd/mad/default.pgo.
PGO_DIR ?= /tmp/mad-pgo
PGO_BENCH = $(PGO_DIR)/madbench
PGO_OUT = -pprof $(PGO_DIR)/profiles
pgo:
	rm -rf $(PGO_DIR) && mkdir -p $(PGO_DIR)/profiles
	$(GO) build -o $(PGO_BENCH) ./cmd/madbench
	$(PGO_BENCH) s1 $(PGO_OUT) -series 10000 -mix c=60,g=20,ms=20 -messages 1500000
	$(PGO_BENCH) s1 $(PGO_OUT) -series 100000 -mix c=60,g=20,ms=20 -messages 1000000
	$(PGO_BENCH) s1 $(PGO_OUT) -series 100000 -tags 3-6 -messages 1000000
	$(PGO_BENCH) s1 $(PGO_OUT) -series 10000 -mix c=60,g=20,ms=20 -proto tcp -messages 1000000
	$(PGO_BENCH) s2 $(PGO_OUT) -series 1000000
	$(PGO_BENCH) s3 $(PGO_OUT) -s3-protocols v3 -cells 10000000/100/25
	$(PGO_BENCH) s3 $(PGO_OUT) -s3-protocols v3,remotewrite -cells 30000/10/5
	$(PGO_BENCH) otlp $(PGO_OUT) -duration 3s
	$(GO) tool pprof -proto $(PGO_DIR)/profiles/*.pprof > $(PGO_DIR)/merged.pgo
	mv $(PGO_DIR)/merged.pgo cmd/mad/default.pgo

# Reliability (RELIABILITY.md). fault: the fault campaign of cmd/madfault against a mad built
# from this tree (about 20 minutes; wants about 16 GiB of memory for its 10 M series);
# fault-quick: the same with every duration and count ×0.1 (a few minutes).
# fuzz-long: every target of fuzz-smoke (the list is fuzz-smoke's own commands) to
# FUZZ_LONG_TIME executions each (a count: 10000000x), one after another, one worker each,
# through fuzz/long.sh: without minimisation (Go minimises every new interesting input too, and
# the slow targets spent half their time in it; a failing input is kept whole), resumed after a
# stop of Go's 10 s timer whose input passes alone (a starved machine; see the script).
# FUZZ_CPU pins the runs, FUZZ_LOG_DIR keeps their output. About a day on one core of the
# machines of RELIABILITY.md; two make fuzz-long runs with FUZZ_CPU=0 and 1 share it out
# only if given disjoint targets (run fuzz/long.sh by hand). CI keeps fuzz-smoke.
FUZZ_LONG_TIME ?= 10000000x
FAULT_OUT ?= RELIABILITY-results.md

.PHONY: fault fault-quick fuzz-long

fault:
	$(GO) run ./cmd/madfault -out $(FAULT_OUT)

fault-quick:
	$(GO) run ./cmd/madfault -scale 0.1 -out $(FAULT_OUT)
	MADFAULT_E2E=1 $(GO) test -count=1 -run TestKillFault ./cmd/madfault

fuzz-long:
	cmds=$$($(MAKE) -s -n fuzz-smoke GO=$(GO) | sed -E 's#^.* -fuzz .\^([A-Za-z0-9]+)\$$. .* \./([^ ]+)$$#GO=$(GO) bash fuzz/long.sh \2 \1 $(FUZZ_LONG_TIME)#') && \
	if echo "$$cmds" | grep -v '^GO=.* bash fuzz/long.sh '; then echo "fuzz-long: fuzz-smoke lines not rewritten (above)"; exit 1; fi && \
	echo "$$cmds" | sh -e

# Packaging (packaging/, README "Running in a container and under systemd"); not part of
# test or CI, which must not depend on a container engine.
#
# image: the container image of packaging/container/Containerfile, built with podman (or
# buildah) from a context staged in bin/image: the static binary of `build` (CGO_ENABLED=0,
# stamped, stripped), MAD's layout, /etc/passwd and /etc/group, and this machine's CA
# certificates. The build pulls nothing. It prints the image's size.
# image-test: builds the image, runs it and checks it (TestContainerImage in cmd/mad: the
# image's settings, -version, /ping, the HEALTHCHECK, a StatsD line in, its metric out,
# SIGTERM). It needs podman; CONTAINER_CMD can add podman's global flags (a sandbox with
# hybrid cgroups needs CONTAINER_CMD="podman --runtime runc": crun refuses them).
# systemd-verify: systemd-analyze verify of packaging/systemd/mad.service in a scratch root
# (bin/systemd-root) holding a mad at the unit's ExecStart path, kill for ExecReload and this
# machine's units; any warning fails it (verify itself exits 0 on unknown keys). It also
# prints systemd-analyze security's exposure score.
CONTAINER ?= $(shell command -v podman 2>/dev/null || command -v buildah 2>/dev/null)
CONTAINER_CMD ?= podman
IMAGE ?= localhost/mad:$(or $(VERSION),dev)
IMAGE_CONTEXT := bin/image
CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt
SYSTEMD_ROOT := bin/systemd-root

.PHONY: image image-test systemd-verify

image:
	@test -n "$(CONTAINER)" || { echo "make image: no podman or buildah (apt-get install -y podman, or buildah)"; exit 1; }
	@test -r "$(CA_BUNDLE)" || { echo "make image: no CA bundle at $(CA_BUNDLE) (apt-get install -y ca-certificates, or set CA_BUNDLE)"; exit 1; }
	rm -rf $(IMAGE_CONTEXT)
	mkdir -p $(IMAGE_CONTEXT)/pipelines $(IMAGE_CONTEXT)/tls
	CGO_ENABLED=0 $(MAKE) -s build BIN=$(IMAGE_CONTEXT)/mad EXTRA_LDFLAGS='-s -w'
	cp packaging/container/Containerfile packaging/container/passwd packaging/container/group packaging/container/config.conf $(IMAGE_CONTEXT)/
	cp packaging/pipelines/default.conf $(IMAGE_CONTEXT)/pipelines/
	cp $(CA_BUNDLE) $(IMAGE_CONTEXT)/ca-certificates.crt
	$(CONTAINER) build --format docker -f $(IMAGE_CONTEXT)/Containerfile -t $(IMAGE) $(IMAGE_CONTEXT)
	@echo "$(IMAGE): $$($(CONTAINER) images --format '{{.Size}}' $(IMAGE)) (mad $$(du -k $(IMAGE_CONTEXT)/mad | cut -f1) KiB)"

image-test: image
	MAD_CONTAINER_IMAGE=$(IMAGE) MAD_CONTAINER_CMD="$(CONTAINER_CMD)" $(GO) test -count=1 -v -run '^TestContainerImage$$' ./cmd/mad

systemd-verify:
	@command -v systemd-analyze >/dev/null || { echo "make systemd-verify: no systemd-analyze (apt-get install -y systemd)"; exit 1; }
	rm -rf $(SYSTEMD_ROOT)
	mkdir -p $(SYSTEMD_ROOT)/usr/local/bin $(SYSTEMD_ROOT)/usr/bin $(SYSTEMD_ROOT)/usr/lib/systemd $(SYSTEMD_ROOT)/etc/systemd/system
	ln -s usr/bin $(SYSTEMD_ROOT)/bin
	cp -a /usr/lib/systemd/system $(SYSTEMD_ROOT)/usr/lib/systemd/
	cp /bin/kill $(SYSTEMD_ROOT)/usr/bin/kill
	$(MAKE) -s build BIN=$(SYSTEMD_ROOT)/usr/local/bin/mad
	cp packaging/systemd/mad.service $(SYSTEMD_ROOT)/etc/systemd/system/
	@out=$$(systemd-analyze verify --root=$(SYSTEMD_ROOT) $(SYSTEMD_ROOT)/etc/systemd/system/mad.service 2>&1); rc=$$?; \
	if [ $$rc -ne 0 ] || [ -n "$$out" ]; then echo "$$out"; echo "systemd-verify: systemd-analyze verify found problems (exit $$rc)"; exit 1; fi
	@systemd-analyze security --offline=yes --root=$(SYSTEMD_ROOT) $(SYSTEMD_ROOT)/etc/systemd/system/mad.service 2>/dev/null | tail -1 || true
	@echo "systemd-verify: packaging/systemd/mad.service verified by $$(systemd-analyze --version | head -1): no warnings"
