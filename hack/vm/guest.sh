#!/bin/bash
# The course inside the VM of TestRealVM (internal/e2e/vm_real_test.go),
# run once by the guest's kubetutor-vm.service after boot. The test puts
# this script, kubetutor, the Kubernetes binaries (bin/) and the step IDs
# (steps) on the guest's second disk (/opt/kubetutor, read-only); every
# command's output goes to the results share (/results, 9p), one file per
# command, and a line per command to results/steps.txt: NAME EXIT SECONDS.
# Progress goes to the serial console, which the test streams. run calls
# this script again (--call) so that a limit applies to its functions too.
set -u
K=/opt/kubetutor
R=/results
W=/root/kubetutor-demo
KT=$K/kubetutor
# Go programs run 15-19x slower under qemu's software emulation than on the
# host: the checks get --timeout 60s (5s by default) and each demo step
# --step-timeout 10m (2m), and the demo --slow-host: kube-apiserver's restart
# in the logs step takes 25-30 s here, longer than the leader-election renew
# deadline (10 s) of kube-controller-manager and kube-scheduler, which then
# exit ("leaderelection lost/stopped"); --slow-host gives them 100 s.
# Everything else is as a learner runs it.
FLAGS=(--workdir "$W" --kubeconfig "$W/admin.conf" --containerd-address "$W/containerd/containerd.sock" --state-dir "$W/state" --timeout 60s)
export NO_COLOR=1 KUBECONFIG= PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

say() { echo "kubetutor-vm: $*" >/dev/ttyS0; }

# run NAME LIMIT CMD...: CMD's output in $R/NAME.out, NAME EXIT SECONDS in steps.txt.
run() {
  local name=$1 limit=$2 t0 t1 rc
  shift 2
  say "$name: $*"
  t0=$(date +%s.%N)
  timeout -k 10s "$limit" "$0" --call "$@" >"$R/$name.out" 2>&1
  rc=$?
  t1=$(date +%s.%N)
  secs=$(echo "$t0 $t1" | awk '{printf "%.1f", $2 - $1}')
  echo "$name $rc $secs" >>"$R/steps.txt"
  say "$name: exit $rc in ${secs}s"
  return $rc
}

# systemd_blocks STEP: the lesson's systemctl lines for this host, as
# `kubetutor show STEP --commands` prints them (the lesson's own text).
systemd_blocks() { "$KT" show "$1" --commands "${FLAGS[@]}" | grep '^systemctl '; }

facts() {
  echo "cgroupfs $(stat -fc %T /sys/fs/cgroup)"
  echo "pid1 $(cat /proc/1/comm)"
  echo "uptime $(cut -d' ' -f1 /proc/uptime)"
  echo "kernel $(uname -r)"
  echo "cpus $(nproc)"
  echo "containerd $(containerd --version)"
  echo "runc $(runc --version | head -1)"
  systemd-analyze 2>&1 | head -1
}

# The packaged etcd and containerd services start at boot, as on any
# systemd machine. The demo never stops a host's services (its tools and
# containerd lessons' systemctl blocks are demo=skip-services) and its
# preflight stops on the packaged etcd holding port 2379; this machine is
# the demo's own, so the script types those blocks itself first, the
# lesson's text as `kubetutor show` prints it for this host.
stop_services() {
  local line
  for s in tools containerd; do
    systemd_blocks "$s" | while read -r line; do
      echo "+ $line"
      eval "$line" || return 1
    done
  done
  systemctl is-active etcd containerd || true
}

demo_steps() {
  local id
  for id in $(cat "$K/steps"); do
    run "demo-$id" 30m "$KT" demo --auto --pause 0 --offline --slow-host --bin-dir "$K/bin" --step-timeout 10m --from "$id" --to "$id" "${FLAGS[@]}" || return 1
  done
}

# The kubelet killed as a crash would: check must name it not running.
kill_kubelet() {
  local pid
  pid=$(pgrep -x kubelet) || { echo "no kubelet running"; return 1; }
  echo "kill -9 $pid"
  kill -9 "$pid"
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
}

# A cgroup driver mismatch, on purpose: the kubelet started again by hand
# with the other driver than containerd's runc, and the nginx pod deleted so
# that a new sandbox is made; what the kubelet and the events say is kept.
mismatch() {
  local other=cgroupfs
  grep -q 'cgroupDriver: cgroupfs' "$W/kubelet.yaml" && other=systemd
  sed "s/^cgroupDriver: .*/cgroupDriver: $other/" "$W/kubelet.yaml" >"$W/kubelet-mismatch.yaml"
  echo "containerd: $(grep SystemdCgroup "$W"/containerd/config.toml)"
  echo "kubelet: cgroupDriver: $other"
  (cd "$W" && exec bin/kubelet --kubeconfig=admin.conf --config=kubelet-mismatch.yaml --root-dir="$W/kubelet" >"$R/kubelet-mismatch.log" 2>&1) &
  local kpid=$!
  "$W/bin/kubectl" --kubeconfig "$W/admin.conf" delete pod -l app=nginx --wait=false
  for _ in $(seq 60); do
    sleep 5
    "$W/bin/kubectl" --kubeconfig "$W/admin.conf" get events -A -o custom-columns=REASON:.reason,MESSAGE:.message --no-headers | grep -i -m3 'sandbox\|cgroup' && break
  done
  "$W/bin/kubectl" --kubeconfig "$W/admin.conf" get pods -A -o wide
  kill "$kpid"; wait "$kpid"
}

# diagnose: after a failure, what a person at the console would look at:
# every step's verdict, the processes, and each component's last log lines.
diagnose() {
  "$KT" check --all "${FLAGS[@]}"
  ps -eo pid,stat,etime,rss,args --sort=start_time | grep -v '\[' | tail -40
  for c in etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy; do
    echo "=== $c"
    "$KT" demo logs "$c" -n 30 "${FLAGS[@]}"
  done
}

# The reverse mismatch: containerd's runc back on cgroupfs (SystemdCgroup =
# false, containerd started again by hand), the kubelet on systemd as the
# lesson wrote it; the pod deleted again and what comes of it kept. The
# containerd started here is killed at the end: demo down cleans up after
# it as after a killed demo.
mismatch_reverse() {
  local kc=("$W/bin/kubectl" --kubeconfig "$W/admin.conf") old
  old=$(pgrep -x containerd) && kill "$old"
  for _ in $(seq 100); do kill -0 "$old" 2>/dev/null || break; sleep 0.2; done
  sed 's/SystemdCgroup = true/SystemdCgroup = false/' "$W/containerd/config.toml" >"$W/containerd/config-mismatch.toml"
  echo "containerd: $(grep SystemdCgroup "$W/containerd/config-mismatch.toml")"
  echo "kubelet: $(grep cgroupDriver "$W/kubelet.yaml")"
  containerd --config "$W/containerd/config-mismatch.toml" >"$R/containerd-mismatch.log" 2>&1 &
  local cpid=$!
  for _ in $(seq 60); do ctr --address "$W/containerd/containerd.sock" version >/dev/null 2>&1 && break; sleep 1; done
  (cd "$W" && exec bin/kubelet --kubeconfig=admin.conf --config=kubelet.yaml --root-dir="$W/kubelet" >"$R/kubelet-reverse.log" 2>&1) &
  local kpid=$!
  "${kc[@]}" delete events --all -n default >/dev/null
  "${kc[@]}" delete pod -l app=nginx --wait=false
  sleep 90
  "${kc[@]}" get events -n default -o custom-columns=REASON:.reason,OBJECT:.involvedObject.name,MESSAGE:.message --no-headers
  "${kc[@]}" get pods -o wide
  echo "kubelet's errors:"
  grep '^E' "$R/kubelet-reverse.log" | grep -i -m12 'sandbox\|cgroup\|slice\|pod_workers'
  kill "$kpid" "$cpid"
  wait "$kpid" "$cpid"
}

main() {
  rm -f "$R/steps.txt"
  mkdir -p "$W"
  run facts 1m facts
  run doctor-packaged 5m "$KT" doctor "${FLAGS[@]}"
  run stop-services 5m stop_services || return 1
  # doctor as the learner runs it after the tools lesson: the binaries on PATH.
  run doctor 5m env PATH="$K/bin:$PATH" "$KT" doctor "${FLAGS[@]}" || return 1
  # A failed step is diagnosed; the checks, the kill and the mismatch still run.
  demo_steps || run diagnose 10m diagnose
  run check-all 10m "$KT" check --all "${FLAGS[@]}"
  run kill-kubelet 1m kill_kubelet
  run check-killed 10m "$KT" check --all "${FLAGS[@]}"
  run mismatch 10m mismatch
  run mismatch-reverse 10m mismatch_reverse
  run down 10m "$KT" demo down "${FLAGS[@]}"
}

if [ "${1:-}" = --call ]; then
  shift
  "$@"
  exit
fi
main
echo "done $?" >>"$R/steps.txt"
sync
say "done"
