#!/usr/bin/env bash
# Installs the Debian packages kubetutor's tests and the course use: etcd,
# containerd, runc, the CNI plugins, iptables, openssl, tmux, curl (the online
# lessons' downloads, run against a local mirror) and chromium (the
# room dashboard's real-browser test), busybox-static (a shell in the offline
# nginx stand-in, for kubectl exec), qemu, qemu-img and debootstrap (the
# VM test's systemd + cgroup v2 guest, make vm-test), and the Go modules of
# that test from the module proxy. Idempotent.
set -euo pipefail
pkgs=(etcd-server etcd-client containerd runc containernetworking-plugins iptables openssl tmux less chromium curl busybox-static qemu-system-x86 qemu-utils debootstrap)
# The Go modules (go.mod pins them; a no-op once in the module cache).
if command -v go >/dev/null; then
  (cd "$(dirname "$0")/.." && go mod download github.com/chromedp/chromedp go.etcd.io/bbolt) || echo "install-deps: go mod download failed; go test will retry" >&2
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to apt-get install ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
echo "install-deps: apt-get install ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq || true
# Debian starts no services here (no systemd), but make sure no packaged
# etcd or containerd ends up holding the course's ports.
$sudo apt-get install -y -qq "${missing[@]}" >/dev/null
for svc in etcd containerd; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
    $sudo systemctl disable --now "$svc" || true
  fi
done
