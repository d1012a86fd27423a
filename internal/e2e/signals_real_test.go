package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRealTerminalStartInterrupted: at `kubetutor start`'s menu in a real
// terminal (huh's full form, the terminal in raw mode, so Ctrl-C is a key,
// not a signal) Ctrl-C ends the walkthrough with status 130; SIGTERM sent
// to the process ends it with 143, without running "Check now" on a
// cancelled context. Issue 10, defect 4.
func TestRealTerminalStartInterrupted(t *testing.T) {
	_, err := exec.LookPath("tmux")
	requireReal(t, "tmux not installed (hack/install-deps.sh installs it)", err == nil)
	bin := kubetutorBinary(t)
	for _, tc := range []struct {
		name string
		stop func(m *tmux)
		want string
	}{
		{"ctrl-c", func(m *tmux) { m.run("send-keys", "-t", m.session, "C-c") }, "EXITED 130"},
		{"sigterm", func(m *tmux) {
			pid := kubetutorPid(m)
			if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
				m.t.Fatal(err)
			}
		}, "EXITED 143"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wd, state := t.TempDir(), t.TempDir()
			m := &tmux{t: t, session: fmt.Sprintf("kubetutor-sig-%d-%s", os.Getpid(), tc.name)}
			shell := fmt.Sprintf("env TERM=xterm-256color PAGER=less LESS=FRX KUBETUTOR_STATE_DIR=%s %s start --workdir %s --kubeconfig %s/none; echo EXITED $?; sleep 600",
				state, bin, wd, wd)
			// The tmux server of the previous case may still be exiting.
			for i := 0; ; i++ {
				out, err := exec.Command("tmux", "new-session", "-d", "-s", m.session, "-x", "120", "-y", "40", shell).CombinedOutput()
				if err == nil {
					break
				}
				if i == 20 {
					t.Fatalf("tmux new-session: %v: %s", err, out)
				}
				time.Sleep(100 * time.Millisecond)
			}
			t.Cleanup(func() { _ = exec.Command("tmux", "kill-session", "-t", m.session).Run() })
			m.waitFor("Welcome: a cluster from its parts")
			m.pager("q")
			m.waitFor("Tools and binaries")
			m.pager("q")
			m.waitForMenu("Tools and binaries")
			tc.stop(m)
			m.waitFor(tc.want)
			if s := m.screen(); strings.Contains(s, "✗ Step") || strings.Contains(s, "not passing") {
				t.Errorf("a check ran after the interruption:\n%s", s)
			}
			if _, err := os.Stat(filepath.Join(state, "progress.json")); err == nil {
				// Nothing was done: no progress to save, and none half-saved.
				data, _ := os.ReadFile(filepath.Join(state, "progress.json"))
				if strings.Contains(string(data), `"done"`) {
					t.Errorf("progress after the interruption: %s", data)
				}
			}
		})
	}
}

// kubetutorPid is the kubetutor process under the tmux pane's shell.
func kubetutorPid(m *tmux) int {
	m.t.Helper()
	panePid, err := strconv.Atoi(strings.TrimSpace(m.run("display-message", "-p", "-t", m.session, "#{pane_pid}")))
	if err != nil {
		m.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
			if err != nil {
				continue
			}
			s := string(stat)
			f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
			if len(f) > 1 && f[1] == strconv.Itoa(panePid) && strings.Contains(s, "(kubetutor)") {
				return pid
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	m.t.Fatalf("no kubetutor process under the pane's shell %d", panePid)
	return 0
}
