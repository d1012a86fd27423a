#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler, kubelet (and kubectl)
# from the k8s.io/kubernetes Go module through the Go module proxy.
# Usage: hack/build-kubernetes.sh OUTDIR [VERSION]
set -euo pipefail
out=${1:?usage: build-kubernetes.sh OUTDIR [VERSION]}
ver=${2:-v1.37.2}
minor=$(echo "$ver" | cut -d. -f2)
stagingver="v0.${minor}.$(echo "$ver" | cut -d. -f3)"
mkdir -p "$out"
out=$(cd "$out" && pwd)
wrk=${KUBETUTOR_BUILD_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kubetutor/build-$ver}
mkdir -p "$wrk"
cd "$wrk"
if [ ! -f go.mod ]; then
  cat > go.mod <<EOM
module kubetutor.local/kubebuild

go 1.26
EOM
  cat > tools.go <<EOM
//go:build tools
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
EOM
  gomod=$(go mod download -json "k8s.io/kubernetes@$ver" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
  go mod edit -require="k8s.io/kubernetes@$ver"
  grep -E '^\s*k8s.io/[a-z0-9-]+ => ./staging' "$gomod" | awk '{print $1}' | while read -r m; do
    go mod edit -replace="$m=$m@$stagingver"
  done
  go mod tidy
fi
pkg=k8s.io/component-base/version
cpkg=k8s.io/client-go/pkg/version
ld="-s -w"
for p in $pkg $cpkg; do
  ld="$ld -X $p.gitVersion=$ver -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
done
CGO_ENABLED=0 go build -trimpath -ldflags="$ld" -o "$out/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kubectl
echo "built into $out:"; ls -la "$out"
