package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubetutor/kubetutor/internal/script"
	"github.com/kubetutor/kubetutor/steps"
)

// TestRealCopyPaste shows the kubelet lesson in a real terminal (tmux, the
// dark style, 60 and 200 columns), copies its kubelet.yaml heredoc from the
// screen as a learner would (capture-pane), pastes it into bash, and
// compares the file bash wrote with the lesson's.
func TestRealCopyPaste(t *testing.T) {
	_, err := exec.LookPath("tmux")
	requireReal(t, "tmux not installed (hack/install-deps.sh installs it)", err == nil)
	bin := kubetutorBinary(t)
	s, _, err := steps.Lookup("kubelet")
	if err != nil {
		t.Fatal(err)
	}
	var heredoc script.Block
	for _, b := range s.Commands {
		if strings.HasPrefix(b.Text, "cat > kubelet.yaml <<EOF\n") {
			heredoc = b
		}
	}
	if heredoc.Text == "" {
		t.Fatal("the kubelet lesson has no kubelet.yaml heredoc")
	}
	lines := heredoc.Lines()
	wantFile := strings.Join(lines[1:len(lines)-1], "\n") + "\n"

	for _, tc := range []struct {
		width int
		pager string
	}{{60, "cat"}, {200, "cat"}, {60, "less"}} {
		t.Run(fmt.Sprintf("%d-%s", tc.width, tc.pager), func(t *testing.T) {
			wd := t.TempDir()
			m := &tmux{t: t, session: fmt.Sprintf("kubetutor-copy-%d-%d-%s", os.Getpid(), tc.width, tc.pager)}
			m.run("new-session", "-d", "-s", m.session, "-x", fmt.Sprint(tc.width), "-y", "60", "-c", wd,
				"env", "TERM=xterm-256color", "GLAMOUR_STYLE=dark", "KUBETUTOR_PAGER="+tc.pager, "LESS=FRX", "PS1=$ ", "bash", "--norc", "--noprofile")
			t.Cleanup(func() { _ = exec.Command("tmux", "kill-session", "-t", m.session).Run() })
			m.run("send-keys", "-t", m.session, "-l", bin+" show kubelet --state-dir "+wd+"/state; echo SHOWN-$((40+2))\n")
			var screen string
			if tc.pager == "less" {
				// Copy from less's first page, then leave it.
				m.waitFor("clientCAFile: certs/ca.crt", "containerd.sock\nEOF")
				screen = m.screen()
				m.run("send-keys", "-t", m.session, "q")
				m.waitFor("SHOWN-42")
			} else {
				m.waitFor("SHOWN-42")
				screen = m.screen()
			}
			start := strings.Index(screen, "\ncat > kubelet.yaml <<EOF\n")
			if start < 0 {
				t.Fatalf("the heredoc does not start at column 0 on screen:\n%s", screen)
			}
			end := strings.Index(screen[start+1:], "\nEOF\n")
			if end < 0 {
				t.Fatalf("the heredoc's EOF is not alone at column 0 on screen:\n%s", screen[start:])
			}
			copied := screen[start+1:start+1+end] + "\nEOF\n"
			if copied != heredoc.Text {
				t.Errorf("copied from the screen:\n%q\nthe lesson's block:\n%q", copied, heredoc.Text)
			}
			buf := filepath.Join(wd, "clipboard")
			if err := os.WriteFile(buf, []byte(copied), 0o644); err != nil {
				t.Fatal(err)
			}
			m.run("load-buffer", "-b", "copied", buf)
			m.run("paste-buffer", "-b", "copied", "-t", m.session)
			m.run("send-keys", "-t", m.session, "-l", "echo PASTED-$((40+2))\n")
			m.waitFor("PASTED-42")
			var got []byte
			deadline := time.Now().Add(5 * time.Second)
			for {
				got, err = os.ReadFile(filepath.Join(wd, "kubelet.yaml"))
				if err == nil && string(got) == wantFile || time.Now().After(deadline) {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if string(got) != wantFile {
				t.Errorf("kubelet.yaml written by the pasted block (%v):\n%s\nwant:\n%s\nscreen:\n%s", err, got, wantFile, m.screen())
			}
		})
	}
}
