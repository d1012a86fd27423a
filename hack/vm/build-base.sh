#!/usr/bin/env bash
# Builds the VM test's base disk image (TestRealVM, `make vm-test`): Debian 12
# with systemd as PID 1 (cgroup v2, Debian's default), Debian's containerd,
# runc, CNI plugins and etcd, and what the course needs (iptables, openssl,
# curl, busybox-static...). Usage: build-base.sh OUT.img (root; debootstrap
# and mkfs.ext4 -d, no loop mounts). The course's binaries and kubetutor are
# not in it: the test hands them to the guest on a second disk, so the base
# is rebuilt only when this script changes (the test keys its cache on it).
set -euo pipefail
out=${1:?usage: build-base.sh OUT.img}
# The tools, if hack/install-deps.sh has not installed them yet.
for tool in debootstrap:debootstrap qemu-img:qemu-utils qemu-system-x86_64:qemu-system-x86; do
  command -v "${tool%%:*}" >/dev/null || missing="${missing:-} ${tool#*:}"
done
if [ -n "${missing:-}" ]; then
  echo "build-base: apt-get install$missing"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
# Debian's mirror as this host's apt knows it (deb822 sources), else deb.debian.org.
mirror=$(awk '/^URIs:/ && $2 ~ /debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}
pkgs=systemd,systemd-sysv,udev,dbus,iproute2,kmod,procps,linux-image-amd64,ca-certificates,containerd,runc,containernetworking-plugins,etcd-server,etcd-client,iptables,openssl,curl,less,busybox-static
work=$(mktemp -d "$(dirname "$out")/base.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
echo "build-base: debootstrap bookworm from $mirror"
debootstrap --variant=minbase --include="$pkgs" bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  { tail -30 "$work/debootstrap.log" >&2; exit 1; }
# The guest: a console that stays the test's (no getty on ttyS0), a hostname
# that resolves, the results share and the binaries disk mounted, and one
# oneshot unit that runs the test's script (on the binaries disk) once booted.
echo kubetutor-vm >"$root/etc/hostname"
printf '127.0.0.1 localhost kubetutor-vm\n' >"$root/etc/hosts"
printf 'nameserver 10.0.2.3\n' >"$root/etc/resolv.conf"
cat >"$root/etc/fstab" <<'FSTAB'
/dev/vda / ext4 rw,errors=remount-ro 0 1
/dev/vdb /opt/kubetutor ext4 ro,nofail 0 0
results /results 9p trans=virtio,version=9p2000.L,msize=262144,nofail 0 0
FSTAB
mkdir -p "$root/opt/kubetutor" "$root/results"
ln -sf /dev/null "$root/etc/systemd/system/serial-getty@ttyS0.service"
cat >"$root/etc/systemd/system/kubetutor-vm.service" <<'UNIT'
[Unit]
Description=kubetutor's VM test (TestRealVM)
After=multi-user.target
Wants=network-online.target
RequiresMountsFor=/opt/kubetutor /results

[Service]
Type=oneshot
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
ExecStart=/opt/kubetutor/guest.sh
ExecStopPost=/bin/systemctl poweroff --no-block

[Install]
WantedBy=multi-user.target
UNIT
ln -sf ../kubetutor-vm.service "$root/etc/systemd/system/multi-user.target.wants/kubetutor-vm.service"
# Networking: the user-mode NIC by DHCP (systemd-networkd).
cat >"$root/etc/systemd/network/10-eth.network" <<'NET'
[Match]
Name=en* eth*
[Network]
DHCP=ipv4
NET
ln -sf /lib/systemd/system/systemd-networkd.service "$root/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
cp "$root"/boot/vmlinuz-* "$work/vmlinuz"
cp "$root"/boot/initrd.img-* "$work/initrd.img"
rm -rf "$root"/var/cache/apt/archives/*.deb
echo "build-base: mkfs.ext4 -d"
mkfs.ext4 -q -L kubetutor-vm -d "$root" -F "$work/base.img" 4G
mv "$work/vmlinuz" "${out%.img}.vmlinuz"
mv "$work/initrd.img" "${out%.img}.initrd"
mv "$work/base.img" "$out"
echo "build-base: done"
