package e2e

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubetutor/kubetutor/steps"
)

// The learner's usual host is a cloud VM where systemd is PID 1 and cgroup
// v2 the only hierarchy; this machine is neither. TestRealVM boots one under
// qemu (KVM when the CPU offers it, software emulation otherwise) and runs
// the course inside on that host's variants: doctor, the demo step by step
// through act two, check --all, the kubelet killed and check catching it, a
// cgroup driver mismatch on purpose, demo down. hack/vm/build-base.sh builds
// the base image once (cached under ~/.cache/kubetutor/vm-KEY, KEY the
// script's hash); the binaries and hack/vm/guest.sh go in on a second disk,
// made for each run; results come back on a 9p share. `make vm-test` runs it.

const (
	vmBuildLimit = 20 * time.Minute // the base image: debootstrap and mkfs
	vmRunLimit   = 40 * time.Minute // boot, the course inside, poweroff
	vmMemory     = "5120"           // MiB: the cluster and the 9p page cache
)

func TestRealVM(t *testing.T) {
	requireReal(t, "the VM test needs root (debootstrap, mkfs.ext4 -d)", os.Geteuid() == 0)
	for _, tool := range []string{"qemu-system-x86_64", "qemu-img", "debootstrap", "mkfs.ext4"} {
		_, err := exec.LookPath(tool)
		requireReal(t, tool+" not installed (hack/install-deps.sh installs it)", err == nil)
	}
	_, err := os.Stat(filepath.Join(kubeBinDir(), "coredns"))
	requireReal(t, "coredns not built in "+kubeBinDir()+" (make kube-binaries builds it)", err == nil)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	base := vmBaseImage(ctx, t)
	dir := t.TempDir()
	results := filepath.Join(dir, "results")
	if err := os.Mkdir(results, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := vmBinDisk(ctx, t, dir)
	overlay := filepath.Join(dir, "run.qcow2")
	// The run writes to a copy-on-write overlay: the cached base stays clean.
	vmRun(ctx, t, "qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "raw", overlay)
	bootVM(ctx, t, filepath.Join(dir, "console.log"), vmQemuArgs(base, overlay, bin, results))
	t.Logf("the VM test took %s", time.Since(start).Round(time.Second))
	assertVMResults(t, results)
}

// vmBaseImage returns the cached base image, building it first if needed.
func vmBaseImage(ctx context.Context, t *testing.T) string {
	t.Helper()
	script, err := filepath.Abs("../../hack/vm/build-base.sh")
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(script)
	if err != nil {
		t.Fatalf("read the image build script: %v", err)
	}
	sum := sha256.Sum256(text)
	home, _ := os.UserHomeDir()
	dir := filepath.Join(home, ".cache", "kubetutor", "vm-"+hex.EncodeToString(sum[:])[:12])
	img := filepath.Join(dir, "base.img")
	if _, err := os.Stat(img); err == nil {
		t.Logf("VM base image: %s (cached)", img)
		return img
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("building the VM base image in %s (debootstrap; minutes on a fresh machine)", dir)
	start := time.Now()
	bctx, cancel := context.WithTimeout(ctx, vmBuildLimit)
	defer cancel()
	done := vmProgress(t, "building the VM base image")
	out, err := vmCommand(bctx, script, img).CombinedOutput()
	done()
	if err != nil {
		// A killed build leaves its work dir (its trap did not run), maybe a
		// kernel without its image: remove all of it.
		left, _ := filepath.Glob(filepath.Join(dir, "base.*"))
		for _, l := range left {
			os.RemoveAll(l)
		}
		t.Fatalf("build the VM base image with %s: %v\n%s", script, err, out)
	}
	t.Logf("VM base image built in %s:\n%s", time.Since(start).Round(time.Second), out)
	return img
}

// vmBinDisk makes the guest's second disk: kubetutor, the Kubernetes
// binaries, the guest's script and the step IDs it runs the demo through.
func vmBinDisk(ctx context.Context, t *testing.T, dir string) string {
	t.Helper()
	stage := filepath.Join(dir, "stage")
	if err := os.MkdirAll(filepath.Join(stage, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(kubeBinDir())
	if err != nil {
		t.Fatalf("list the Kubernetes binaries: %v", err)
	}
	for _, e := range ents {
		copyFile(t, filepath.Join(kubeBinDir(), e.Name()), filepath.Join(stage, "bin", e.Name()))
	}
	copyFile(t, kubetutorBinary(t), filepath.Join(stage, "kubetutor"))
	copyFile(t, "../../hack/vm/guest.sh", filepath.Join(stage, "guest.sh"))
	var ids []string
	for _, s := range steps.All() {
		ids = append(ids, s.ID)
	}
	if err := os.WriteFile(filepath.Join(stage, "steps"), []byte(strings.Join(ids, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "bin.img")
	vmRun(ctx, t, "mkfs.ext4", "-q", "-L", "kubetutor-bin", "-d", stage, "-F", img, "2G")
	if err := os.RemoveAll(stage); err != nil {
		t.Fatal(err)
	}
	return img
}

// copyFile copies a file with its mode (a hard link when the file systems
// allow it).
func copyFile(t *testing.T, from, to string) {
	t.Helper()
	if os.Link(from, to) == nil {
		return
	}
	in, err := os.Open(from)
	if err != nil {
		t.Fatalf("copy %s: %v", from, err)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		t.Fatalf("copy %s: %v", from, err)
	}
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		t.Fatalf("copy %s: %v", from, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		t.Fatalf("copy %s to %s: %v", from, to, err)
	}
	if err := out.Close(); err != nil {
		t.Fatalf("copy %s to %s: %v", from, to, err)
	}
}

// vmAccel is KVM when the CPU offers virtualization and /dev/kvm opens,
// else qemu's software emulation (TCG). A /dev/kvm without vmx/svm in
// /proc/cpuinfo exists on some cloud VMs and makes qemu abort ("failed to
// set MSR"), so the flags decide, not the device alone.
func vmAccel() (accel, cpu string) {
	info, _ := os.ReadFile("/proc/cpuinfo")
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err == nil {
		f.Close()
		for _, l := range strings.Split(string(info), "\n") {
			if strings.HasPrefix(l, "flags") && (strings.Contains(l, " vmx") || strings.Contains(l, " svm")) {
				return "kvm", "host"
			}
		}
	}
	return "tcg", "max"
}

func vmQemuArgs(base, overlay, bin, results string) []string {
	accel, cpu := vmAccel()
	stem := strings.TrimSuffix(base, ".img")
	return []string{
		"-accel", accel, "-cpu", cpu, "-m", vmMemory, "-smp", strconv.Itoa(min(2, runtime.NumCPU())),
		"-nographic", "-monitor", "none", "-no-reboot",
		"-kernel", stem + ".vmlinuz", "-initrd", stem + ".initrd",
		"-append", "root=/dev/vda rw console=ttyS0 quiet",
		"-drive", "file=" + overlay + ",format=qcow2,if=virtio",
		"-drive", "file=" + bin + ",format=raw,if=virtio,readonly=on",
		"-virtfs", "local,path=" + results + ",mount_tag=results,security_model=none,id=results",
		"-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0",
	}
}

// bootVM runs qemu until the guest powers off, streaming the guest's
// progress lines with the time since boot and keeping the whole console
// in consoleLog. The VM is killed when the test
// fails, times out or is interrupted (Ctrl-C), and when the test process
// dies (Pdeathsig).
func bootVM(ctx context.Context, t *testing.T, consoleLog string, args []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, vmRunLimit)
	defer cancel()
	cmd := vmCommand(ctx, "qemu-system-x86_64", args...)
	cmd.Stdin = nil
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	console, err := os.Create(consoleLog)
	if err != nil {
		t.Fatal(err)
	}
	defer console.Close()
	t.Logf("booting the VM (%s): qemu-system-x86_64 %s", args[1], strings.Join(args, " "))
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start qemu: %v", err)
	}
	var tail []string
	sc := bufio.NewScanner(io.TeeReader(pipe, console))
	for sc.Scan() {
		line := sc.Text()
		tail = append(tail, line)
		if len(tail) > 40 {
			tail = tail[1:]
		}
		if i := strings.Index(line, "kubetutor-vm: "); i >= 0 {
			t.Logf("[%s] %s", time.Since(start).Round(time.Second), line[i+len("kubetutor-vm: "):])
		}
	}
	err = cmd.Wait()
	t.Logf("the VM ran %s", time.Since(start).Round(time.Second))
	if ctx.Err() != nil {
		t.Fatalf("the VM did not power off: %v; the console's last lines:\n%s", ctx.Err(), strings.Join(tail, "\n"))
	}
	if err != nil {
		t.Fatalf("qemu: %v; the console's last lines:\n%s", err, strings.Join(tail, "\n"))
	}
}

// vmCommand is a command in a process group of its own, the whole group
// killed (SIGKILL) when ctx ends (the test fails, times out or is
// interrupted), the command itself when the test process dies; its pipes
// are given up 10 s later.
func vmCommand(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	return cmd
}

func vmRun(ctx context.Context, t *testing.T, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if out, err := vmCommand(ctx, name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// vmProgress logs a line every minute until done is called.
func vmProgress(t *testing.T, what string) (done func()) {
	stop := make(chan struct{})
	start := time.Now()
	go func() {
		tick := time.NewTicker(time.Minute)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				t.Logf("%s: %s", what, time.Since(start).Round(time.Second))
			}
		}
	}()
	return func() { close(stop) }
}

// vmStep is one line of the guest's steps.txt: a command, its exit status
// and its time.
type vmStep struct {
	code int
	secs string
}

func readVMSteps(t *testing.T, results string) map[string]vmStep {
	t.Helper()
	text, err := os.ReadFile(filepath.Join(results, "steps.txt"))
	if err != nil {
		t.Fatalf("the guest wrote no results: %v", err)
	}
	got := map[string]vmStep{}
	var order []string
	for _, l := range strings.Split(strings.TrimSpace(string(text)), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		code, _ := strconv.Atoi(f[1])
		s := vmStep{code: code}
		if len(f) > 2 {
			s.secs = f[2] + " s"
			order = append(order, fmt.Sprintf("%s %s", f[0], s.secs))
		}
		got[f[0]] = s
	}
	t.Logf("inside the VM (command, seconds): %s", strings.Join(order, ", "))
	return got
}

func vmOutput(t *testing.T, results, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(results, name+".out"))
	if err != nil {
		t.Errorf("the guest's %s output: %v", name, err)
	}
	return string(b)
}

// assertVMResults asserts on what the guest ran: each command's exit
// status and the words its output must hold.
func assertVMResults(t *testing.T, results string) {
	t.Helper()
	got := readVMSteps(t, results)
	facts := vmOutput(t, results, "facts")
	t.Logf("the guest:\n%s", facts)
	type vmWant struct {
		name   string
		failed bool     // the command must fail (check after the kill)
		want   []string // in its output
	}
	tests := []vmWant{
		{name: "facts", want: []string{"cgroupfs cgroup2fs", "pid1 systemd"}},
		{name: "stop-services", want: []string{"+ systemctl disable --now etcd containerd", "+ systemctl stop containerd"}},
		{name: "doctor", want: []string{"systemd, cgroup-v2"}},
		{name: "check-all"},
		{name: "check-killed", failed: true, want: []string{"is not running"}},
		{name: "down"},
	}
	for _, s := range steps.All() {
		tests = append(tests, vmWant{name: "demo-" + s.ID})
	}
	for _, tt := range tests {
		s, ok := got[tt.name]
		out := vmOutput(t, results, tt.name)
		switch {
		case !ok:
			t.Errorf("the guest did not run %s", tt.name)
		case tt.failed && s.code == 0, !tt.failed && s.code != 0:
			t.Errorf("%s in the guest: exit %d (want failure: %v):\n%s", tt.name, s.code, tt.failed, out)
		}
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s in the guest: no %q in its output:\n%s", tt.name, w, out)
			}
		}
	}
	assertMismatches(t, vmOutput(t, results, "mismatch"), vmOutput(t, results, "mismatch-reverse"))
}

// assertMismatches: what the troubleshooting lesson quotes of each cgroup
// driver mismatch is what the guest printed.
func assertMismatches(t *testing.T, mismatch, reverse string) {
	t.Helper()
	t.Logf("the cgroup driver mismatch in the guest:\n%s", mismatch)
	t.Logf("the reverse mismatch in the guest:\n%s", reverse)
	lesson := lessonText(t, "troubleshooting")
	for _, tc := range []struct{ out, quote string }{
		{mismatch, `runc create failed: expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, got "/kubepods/besteffort/pod`},
		{reverse, "SandboxChanged"},
		{reverse, "Pod sandbox changed, it will be killed and re-created."},
	} {
		if !strings.Contains(tc.out, tc.quote) {
			t.Errorf("the guest's mismatch output has no %q", tc.quote)
		}
		if !strings.Contains(lesson, tc.quote) {
			t.Errorf("the troubleshooting lesson does not quote %q", tc.quote)
		}
	}
}
