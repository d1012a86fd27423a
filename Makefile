# kubetutor — see README.md.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)

KUBE_VERSION ?= v1.37.2
KUBE_BIN ?= $(HOME)/.cache/kubetutor/bin-$(KUBE_VERSION)
GO_TEST_FLAGS ?=
UPSTREAM_DIR ?= $(HOME)/.cache/kubetutor/upstream-stack

.PHONY: all build run test vm-test unit bench fuzz deps kube-binaries upstream-stack lint clean

all: build

# Static, so that the offline images can carry it (kubetutor images).
build:
	CGO_ENABLED=0 go build -trimpath -o bin/kubetutor ./cmd/kubetutor

# The main job: build kubetutor and start the workshop walkthrough in the
# current directory (pass ARGS="--workdir DIR" to work elsewhere).
run: build
	./bin/kubetutor start $(ARGS)

# Debian packages the real tests need (etcd, containerd, CNI plugins, ...).
deps:
	hack/install-deps.sh

# The Kubernetes binaries, built by `kubetutor fetch --from-source` from the
# k8s.io/kubernetes Go module through the Go module proxy (about 6 minutes on
# a fresh Go cache; seconds afterwards: fetch skips binaries that report the
# wanted version).
kube-binaries: build
	./bin/kubetutor fetch --from-source --bin-dir $(KUBE_BIN) --kubernetes-version $(KUBE_VERSION) kubernetes coredns

# The second node stack of the demo e2e: upstream containerd 2.x, etcd 3.6,
# the CNI plugins and crictl, built by `kubetutor fetch --from-source` from the
# Go module proxy into $(UPSTREAM_DIR)/bin and /cni (about 4 minutes on a fresh
# Go cache; seconds afterwards: fetch skips binaries whose Go build info names
# the wanted version).
upstream-stack: build
	./bin/kubetutor fetch --from-source --bin-dir $(UPSTREAM_DIR)/bin --cni-dir $(UPSTREAM_DIR)/cni \
		--etcd-version v3.6.17 --cni-version v1.10.0 containerd crictl etcd cni

# Every test, the real-cluster ones included.
test: deps kube-binaries upstream-stack
	gofmt -l . | (! grep .) || (echo "gofmt needed on the files above" >&2; exit 1)
	go vet ./...
	# The real-cluster tests (internal/e2e) hold the cluster ports 2379, 6443,
	# 10250...; they run after the other packages, never beside them, so that
	# no other test's check sees (or is seen by) their cluster.
	KUBETUTOR_REAL=1 KUBETUTOR_KUBE_BIN=$(KUBE_BIN) go test -count=1 -timeout 30m $(GO_TEST_FLAGS) $$(go list ./... | grep -v /internal/e2e$$)
	KUBETUTOR_REAL=1 KUBETUTOR_KUBE_BIN=$(KUBE_BIN) KUBETUTOR_UPSTREAM_DIR=$(UPSTREAM_DIR) go test -count=1 -timeout 45m -skip '^TestRealVM$$' $(GO_TEST_FLAGS) ./internal/e2e
	$(VM_TEST)

# The course in a systemd + cgroup v2 guest (Debian 12 under qemu), after the
# other real tests and with a timeout of its own: the base image is built once
# into ~/.cache/kubetutor/vm-KEY (root: debootstrap), then booted with the
# binaries on a second disk; -v streams the guest's progress.
VM_TEST = KUBETUTOR_REAL=1 KUBETUTOR_KUBE_BIN=$(KUBE_BIN) go test -count=1 -v -timeout 60m -run '^TestRealVM$$' $(GO_TEST_FLAGS) ./internal/e2e

vm-test: deps kube-binaries
	$(VM_TEST)

# Unit tests only (no cluster).
unit:
	go test -count=1 -short ./...

# Go native fuzzing of every parser of outside input: every Fuzz* target of
# every package, FUZZTIME each (their seed corpora also run as unit tests in
# `make test`).
FUZZTIME ?= 30s
fuzz:
	@set -e; for pkg in $$(go list ./...); do \
		for name in $$(go test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$name ($$pkg, $(FUZZTIME))"; \
			go test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

# Benchmarks on the real cluster (root): the demo to a Running pod, check
# beside kubectl get, and how fast check --watch notices a change; and the
# workshop room under 200 learners for a minute (loopback). Results
# go to hack/bench.txt; the README quotes them.
bench: deps kube-binaries upstream-stack
	set -o pipefail; go test -run '^$$' -bench . -benchtime 5x ./internal/pki | tee hack/bench.txt
	set -o pipefail; go test -run '^$$' -bench RoomLoad -benchtime 1x ./internal/room | tee -a hack/bench.txt
	set -o pipefail; KUBETUTOR_REAL=1 KUBETUTOR_KUBE_BIN=$(KUBE_BIN) KUBETUTOR_UPSTREAM_DIR=$(UPSTREAM_DIR) go test -v -run '^$$' -bench . -benchtime 3x ./internal/e2e | grep -v '^\s*[•✓]' | tee -a hack/bench.txt

clean:
	rm -rf bin
