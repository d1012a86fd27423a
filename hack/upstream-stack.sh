#!/usr/bin/env bash
# The upstream node stack that internet-connected learners install (what
# Kubernetes the Hard Way uses), built from the Go module proxy and cached:
# containerd 2.x with its runc shim and ctr, the CNI plugins, crictl, and
# etcd 3.6 with etcdctl. The demo e2e runs the lessons on it as its second
# stack (TestRealDemoUpstream). Recipe: ../shared/real-cluster.md.
# Usage: hack/upstream-stack.sh [DIR]   (default ~/.cache/kubetutor/upstream-stack)
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH
CONTAINERD=v2.4.2
CNI=v1.10.0
CRICTL=v1.37.0
ETCD=v3.6.16
dir=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/kubetutor/upstream-stack}
stamp="$dir/.versions"
want="containerd=$CONTAINERD cni=$CNI crictl=$CRICTL etcd=$ETCD"
if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
	echo "upstream stack up to date in $dir ($want)"
	exit 0
fi
mkdir -p "$dir/bin" "$dir/cni"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export CGO_ENABLED=0 GOFLAGS=-mod=mod
echo "building containerd $CONTAINERD, its shim and ctr"
GOBIN="$dir/bin" go install -tags no_btrfs github.com/containerd/containerd/v2/cmd/{containerd,containerd-shim-runc-v2,ctr}@$CONTAINERD
echo "building the CNI plugins $CNI"
GOBIN="$dir/cni" go install github.com/containernetworking/plugins/plugins/{main/bridge,ipam/host-local,main/loopback,meta/portmap}@$CNI
echo "building crictl $CRICTL"
GOBIN="$dir/bin" go install sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL
echo "building etcd $ETCD and etcdctl (through a wrapper module: etcd's has replace directives)"
cd "$work"
go mod init kubetutor.local/etcd-build >/dev/null 2>&1
cat > tools.go <<GO
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/etcdctl/v3"
	_ "go.etcd.io/etcd/server/v3"
)
GO
go get go.etcd.io/etcd/server/v3@$ETCD go.etcd.io/etcd/etcdctl/v3@$ETCD >/dev/null
go mod tidy >/dev/null
go build -o "$dir/bin/etcd" go.etcd.io/etcd/server/v3
go build -o "$dir/bin/etcdctl" go.etcd.io/etcd/etcdctl/v3
echo "$want" > "$stamp"
echo "upstream stack in $dir ($want)"
