package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestRealStartFindsALaterKubeconfig drives `kubetutor start` in tmux from
// before the certs step to the apiserver step, with no KUBECONFIG exported,
// no --kubeconfig and no ~/.kube/config: the walkthrough started before
// admin.conf existed must find it in the work dir once the learner writes it
// (in another shell), and go on to etcd and kube-apiserver.
func TestRealStartFindsALaterKubeconfig(t *testing.T) {
	_, err := exec.LookPath("tmux")
	requireReal(t, "tmux not installed (hack/install-deps.sh installs it)", err == nil)
	c := newCluster(t)
	bin := kubetutorBinary(t)
	home, state := t.TempDir(), t.TempDir()
	m := &tmux{t: t, session: fmt.Sprintf("kubetutor-kubeconfig-%d", os.Getpid())}
	shell := fmt.Sprintf("env -u KUBECONFIG HOME=%s TERM=xterm-256color KUBETUTOR_PAGER=cat KUBETUTOR_STATE_DIR=%s %s start --workdir %s; echo EXITED $?; sleep 600",
		home, state, bin, c.dir)
	m.run("new-session", "-d", "-s", m.session, "-x", "150", "-y", "50", shell)
	t.Cleanup(func() { _ = exec.Command("tmux", "kill-session", "-t", m.session).Run() })

	m.waitForMenu("Step 1/" + nSteps + " · Get the tools and binaries — what next?")
	m.run("send-keys", "-t", m.session, "Enter") // Check now
	m.waitFor("✓ Step 1/" + nSteps + " tools (Get the tools and binaries): passes")
	m.next(2)
	m.waitForMenu("Step 2/" + nSteps + " · Make the TLS certificates and a kubeconfig — what next?")
	m.run("send-keys", "-t", m.session, "Enter") // Check now: nothing yet
	m.waitFor("none of " + filepath.Join(home, ".kube", "config"))
	m.waitForMenu("none of ")
	m.run("send-keys", "-t", m.session, "Down", "Enter") // Watch until it passes
	m.waitFor("Watching step certs")

	// In another shell, the learner types the certs lesson's commands.
	c.sh(commandOf(t, "certs"))
	m.waitFor("✓ Step 2/"+nSteps+" certs (Make the TLS certificates and a kubeconfig): passes", filepath.Join(c.dir, "admin.conf"))
	m.next(3)

	etcd := c.start("etcd", commandOf(t, "etcd"))
	m.waitForMenu("Step 3/" + nSteps + " · Start etcd — what next?")
	m.run("send-keys", "-t", m.session, "Down", "Enter")
	m.waitFor("✓ Step 3/" + nSteps + " etcd (Start etcd): passes")
	m.next(4)
	_ = etcd

	c.start("kube-apiserver", commandOf(t, "apiserver"))
	m.waitForMenu("Step 4/" + nSteps + " · Start kube-apiserver — what next?")
	m.run("send-keys", "-t", m.session, "Down", "Enter")
	m.waitFor("✓ Step 4/"+nSteps+" apiserver (Start kube-apiserver): passes", "kube-apiserver v1.37.2 at https://127.0.0.1:6443 is ready")
	m.next(5)

	m.waitForMenu("Step 5/" + nSteps + " · Create the nginx Deployment — what next?")
	for i := 0; i < 6; i++ {
		m.run("send-keys", "-t", m.session, "Down")
	}
	m.run("send-keys", "-t", m.session, "Enter")
	m.waitFor("Progress saved.", "EXITED 0")
}

// next answers the question after a pass (the verdict stays on screen):
// Enter opens step n's lesson, the default.
func (m *tmux) next(n int) {
	m.t.Helper()
	m.waitForMenu(fmt.Sprintf("Next: step %d/%s", n, nSteps))
	m.run("send-keys", "-t", m.session, "Enter")
}
