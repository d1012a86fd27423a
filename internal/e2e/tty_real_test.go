package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tmux drives a program in a real terminal.
type tmux struct {
	t       *testing.T
	session string
}

func (m *tmux) run(args ...string) string {
	m.t.Helper()
	out, err := exec.Command("tmux", args...).CombinedOutput()
	// A session started while the tmux server is exiting (the previous
	// test killed its last session) meets "server exited unexpectedly":
	// a new server comes up on the next try.
	for try := 0; err != nil && args[0] == "new-session" && strings.Contains(string(out), "server exited unexpectedly") && try < 5; try++ {
		time.Sleep(200 * time.Millisecond)
		out, err = exec.Command("tmux", args...).CombinedOutput()
	}
	if err != nil {
		m.t.Fatalf("tmux %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// screen is the pane with its scrollback.
func (m *tmux) screen() string { return m.run("capture-pane", "-p", "-J", "-S", "-", "-t", m.session) }

// waitFor waits until the screen contains every string.
func (m *tmux) waitFor(what ...string) {
	m.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := m.screen()
		missing := ""
		for _, w := range what {
			if !strings.Contains(s, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("the terminal never showed %q; it shows:\n%s", missing, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// pager waits for less to show its prompt, then sends a key.
func (m *tmux) pager(key string) {
	m.t.Helper()
	time.Sleep(500 * time.Millisecond)
	m.run("send-keys", "-t", m.session, key)
}

// waitForMenu waits until a menu is on screen after the last occurrence of
// marker, and ready for keys.
func (m *tmux) waitForMenu(marker string) {
	m.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		sc := m.screen()
		if i := strings.LastIndex(sc, marker); i >= 0 && strings.Contains(sc[i:], "enter submit") {
			break
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("no menu after %q:\n%s", marker, sc)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The form draws before it reads: give it a moment to take keys.
	time.Sleep(300 * time.Millisecond)
}

// TestRealTerminalWalkthrough drives `kubetutor start` in tmux as a learner
// would: arrow keys and Enter in huh's full form, a hint, a passing check
// whose verdict stays until the next lesson is asked for, quit; then the
// saved progress.
func TestRealTerminalWalkthrough(t *testing.T) {
	_, err := exec.LookPath("tmux")
	requireReal(t, "tmux not installed (hack/install-deps.sh installs it)", err == nil)
	bin := kubetutorBinary(t)
	wd, state := t.TempDir(), t.TempDir()
	if err := os.MkdirAll(filepath.Join(wd, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl", "etcd"} {
		if err := os.WriteFile(filepath.Join(wd, "bin", b), []byte("#!/bin/sh\necho v1.37.2\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	m := &tmux{t: t, session: fmt.Sprintf("kubetutor-test-%d", os.Getpid())}
	shell := fmt.Sprintf("env TERM=xterm-256color PAGER=less LESS=FRX KUBETUTOR_STATE_DIR=%s %s start --workdir %s --kubeconfig %s/none; echo EXITED $?; sleep 600",
		state, bin, wd, wd)
	m.run("new-session", "-d", "-s", m.session, "-x", "120", "-y", "40", shell)
	t.Cleanup(func() { _ = exec.Command("tmux", "kill-session", "-t", m.session).Run() })

	// Long lessons open in a pager (less); q goes on to the next one.
	m.waitFor("Welcome: a cluster from its parts")
	m.pager("q")
	m.waitFor("Tools and binaries")
	m.pager("q")
	m.waitFor("Step 1/"+nSteps+" · Get the tools and binaries — what next?", "> Check now", "enter submit")
	m.waitForMenu("Tools and binaries")
	m.run("send-keys", "-t", m.session, "Down", "Down", "Enter")
	m.waitFor("Hint 1 of 3: You need six programs")
	m.waitForMenu("Hint 1 of 3")
	m.run("send-keys", "-t", m.session, "Enter")
	// The verdict stays on screen with a question; the next lesson opens
	// (in less) only on Enter.
	m.waitFor("✓ Step 1/"+nSteps+" tools (Get the tools and binaries): passes", "Unlocked: Make the TLS certificates and a kubeconfig.", "Next: step 2/"+nSteps, "> Open the next lesson")
	m.waitForMenu("Next: step 2/" + nSteps)
	if sc := m.screen(); strings.Contains(sc, "Certificates and a kubeconfig") { // the lesson's heading
		t.Fatalf("the next lesson opened before the learner asked:\n%s", sc)
	}
	m.run("send-keys", "-t", m.session, "Enter")
	m.waitFor("Certificates and a kubeconfig")
	m.pager("q")
	m.waitFor("Step 2/" + nSteps + " · Make the TLS certificates")
	m.waitForMenu("Unlocked: Make the TLS")
	for i := 0; i < 6; i++ {
		m.run("send-keys", "-t", m.session, "Down")
	}
	m.run("send-keys", "-t", m.session, "Enter")
	m.waitFor("Progress saved.", "EXITED 0")

	data, err := os.ReadFile(filepath.Join(state, "progress.json"))
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Steps map[string]struct {
			State string `json:"state"`
			Hints int    `json:"hints"`
		} `json:"steps"`
	}
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	if p.Steps["tools"].State != "done" || p.Steps["tools"].Hints != 1 || p.Steps["certs"].State != "" {
		t.Errorf("progress after the session: %s", data)
	}
}
