package demo

import (
	"strings"
	"testing"

	"github.com/kubetutor/kubetutor/course"
	"github.com/kubetutor/kubetutor/internal/script"
	"github.com/kubetutor/kubetutor/lessons"
	"github.com/kubetutor/kubetutor/steps"
)

// TestComponentsMatchLessons: the step that starts a component has, for
// every host, exactly one long-running block, and it runs that component;
// the other steps start none.
func TestComponentsMatchLessons(t *testing.T) {
	for _, s := range steps.All() {
		name := componentOfStep(s.ID)
		for _, tags := range lessons.AllHosts() {
			var daemons []script.Block
			for _, b := range s.CommandsFor(tags) {
				if b.Kind != script.Daemon {
					continue
				}
				if b.Restarts != "" {
					// It starts a component of an earlier step again.
					if c, ok := course.Lookup(b.Restarts); ok != nil || c.Step == "" {
						t.Errorf("step %s: line %d restarts %q, not a component a step starts", s.ID, b.Line, b.Restarts)
					} else if first := strings.Fields(b.Text); len(first) == 0 || first[0] != b.Restarts {
						t.Errorf("step %s: the block of line %d restarts %s but runs %q", s.ID, b.Line, b.Restarts, b.Text)
					}
					continue
				}
				daemons = append(daemons, b)
			}
			switch {
			case name == "" && len(daemons) > 0:
				t.Errorf("step %s starts no component in the demo, but its lesson has a long-running block at line %d", s.ID, daemons[0].Line)
			case name != "" && len(daemons) != 1:
				t.Errorf("step %s: %d long-running blocks for %v, want one running %s", s.ID, len(daemons), tags, name)
			case name != "":
				if first := strings.Fields(daemons[0].Text); len(first) == 0 || first[0] != name {
					t.Errorf("step %s: the long-running block runs %q, the demo's component is %s", s.ID, daemons[0].Text, name)
				}
			}
		}
	}
}

// TestEveryStepHasAnAction: on every host, every step's lesson gives the
// demo something to do, each block is typed or declared as done otherwise,
// and every declared substitution and replacement is used by some block.
func TestEveryStepHasAnAction(t *testing.T) {
	l := Layout{WorkDir: "/w", ContainerdAddress: "/w/containerd/containerd.sock", CNIConfDir: "/etc/cni/net.d"}
	usedSub := map[string]bool{}
	usedAction := map[string]bool{}
	for _, s := range steps.All() {
		for _, tags := range lessons.AllHosts() {
			blocks := s.CommandsFor(tags)
			if len(blocks) == 0 {
				t.Errorf("step %s: no action for %v", s.ID, tags)
			}
			for _, b := range blocks {
				in, err := actionFor(b)
				if err != nil {
					t.Errorf("step %s: %v", s.ID, err)
				}
				if in != nil {
					usedAction[b.Demo] = true
					if in.Do == nil {
						continue
					}
				}
				for _, sub := range Substitutions {
					if strings.Contains(b.Text, sub.Old) {
						usedSub[sub.Old] = true
					}
				}
			}
		}
	}
	for _, sub := range Substitutions {
		if !usedSub[sub.Old] {
			t.Errorf("substitution %q matches no typed block", sub.Old)
		}
	}
	for name := range Actions {
		if !usedAction[name] {
			t.Errorf("demo action %q is named by no block", name)
		}
	}
	// The substitutions keep the demo in its work dir.
	for _, s := range steps.All() {
		for _, tags := range lessons.AllHosts() {
			for _, b := range s.CommandsFor(tags) {
				if in, _ := actionFor(b); in != nil && in.Do == nil {
					continue
				}
				text := Substitute(l, b.Text)
				for _, host := range []string{"/etc/containerd", "/run/containerd/containerd.sock", "/var/lib/cni"} {
					if strings.Contains(text, host) {
						t.Errorf("step %s line %d: the demo would type %q:\n%s", s.ID, b.Line, host, text)
					}
				}
			}
		}
	}
}

func TestSubstitutedContainerdConfig(t *testing.T) {
	l := Layout{WorkDir: "/w", ContainerdAddress: "/w/c.sock", CNIConfDir: "/etc/cni/net.d"}
	s, _, _ := steps.Lookup("containerd")
	var text string
	for _, b := range s.Commands {
		if strings.Contains(b.Text, "<<EOF") {
			text = Substitute(l, b.Text)
		}
	}
	for _, want := range []string{"cat > /w/containerd/config.toml <<EOF\nversion = 2\nroot = \"/w/containerd/root\"\nstate = \"/w/containerd/state\"\n\n[grpc]\n  address = \"/w/c.sock\"\n\n[plugins.", `conf_dir = "/etc/cni/net.d"`, "mkdir -p /w/containerd\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("substituted block lacks %q:\n%s", want, text)
		}
	}
}

// TestRestartsKeepTheFlags: a block that starts a component again (a
// restarts= block) repeats, line by line, the block that first started it
// on the same host, and only adds flags (or none: a restart to read a
// changed file again): a learner who copies it loses nothing the earlier
// step set up.
func TestRestartsKeepTheFlags(t *testing.T) {
	for _, s := range steps.All() {
		for _, tags := range lessons.AllHosts() {
			for _, b := range s.CommandsFor(tags) {
				if b.Restarts == "" {
					continue
				}
				c, err := course.Lookup(b.Restarts)
				if err != nil {
					t.Fatal(err)
				}
				first, _, err := steps.Lookup(c.Step)
				if err != nil {
					t.Fatal(err)
				}
				var orig []string
				for _, ob := range first.CommandsFor(tags) {
					if ob.Kind == script.Daemon {
						orig = ob.Lines()
					}
				}
				got := b.Lines()
				if len(orig) == 0 || len(got) < len(orig) {
					t.Errorf("step %s line %d: restarts %s with %d lines, the %s step's block has %d", s.ID, b.Line, b.Restarts, len(got), c.Step, len(orig))
					continue
				}
				for i, l := range orig {
					want := l
					if i == len(orig)-1 && len(got) > len(orig) {
						want += " \\"
					}
					if got[i] != want {
						t.Errorf("step %s line %d: line %d is %q, the %s step's block has %q", s.ID, b.Line, i+1, got[i], c.Step, want)
					}
				}
				for _, l := range got[len(orig):] {
					if !strings.HasPrefix(strings.TrimSpace(l), "--") {
						t.Errorf("step %s line %d: %q adds something else than a flag", s.ID, b.Line, l)
					}
				}
			}
		}
	}
}

// TestSubstitutedKubelet: the demo's kubelet talks to the demo's containerd
// (the endpoint lives in kubelet.yaml) and keeps its state in the work dir.
func TestSubstitutedKubelet(t *testing.T) {
	l := Layout{WorkDir: "/w", ContainerdAddress: "/w/c.sock", CNIConfDir: "/etc/cni/net.d"}
	s, _, _ := steps.Lookup("kubelet")
	var file, daemon string
	for _, b := range s.Commands {
		switch {
		case strings.HasPrefix(b.Text, "cat > kubelet.yaml <<EOF"):
			file = Substitute(l, b.Text)
		case b.Kind == script.Daemon:
			daemon = Substitute(l, b.Text)
		}
	}
	if !strings.Contains(file, "\ncontainerRuntimeEndpoint: unix:///w/c.sock\n") {
		t.Errorf("substituted kubelet.yaml lacks the demo's containerd endpoint:\n%s", file)
	}
	if want := "--config=kubelet.yaml \\\n  --root-dir=" + l.KubeletRoot(); !strings.HasSuffix(strings.TrimSpace(daemon), want) {
		t.Errorf("substituted kubelet command does not end with %q:\n%s", want, daemon)
	}
}

// TestKubeProxyBlockAsTyped: the demo types the kube-proxy lesson's block
// as the lesson has it: admin.conf is the work dir's, and $(hostname) is the
// node name the demo's kubelet registers (the machine's host name; both
// lower-case it).
func TestKubeProxyBlockAsTyped(t *testing.T) {
	l := Layout{WorkDir: "/w", ContainerdAddress: "/w/c.sock", CNIConfDir: "/etc/cni/net.d"}
	s, _, err := steps.Lookup(course.KubeProxy)
	if err != nil {
		t.Fatal(err)
	}
	var daemon string
	for _, b := range s.Commands {
		if b.Kind == script.Daemon {
			daemon = b.Text
		}
	}
	if got := Substitute(l, daemon); got != daemon {
		t.Errorf("the demo changes the kube-proxy block:\n%s\nto\n%s", daemon, got)
	}
	for _, want := range []string{"kube-proxy \\\n", "--kubeconfig=admin.conf", "--hostname-override=$(hostname)", "--proxy-mode=iptables", "--conntrack-max-per-core=0"} {
		if !strings.Contains(daemon, want) {
			t.Errorf("the kube-proxy block lacks %q:\n%s", want, daemon)
		}
	}
	if c, _ := course.ForStep(s.ID); c.Name != course.KubeProxy || !c.Root || len(c.CleanupArgs) == 0 {
		t.Errorf("the kube-proxy step starts %+v", c)
	}
}

// TestSlowHostSubstitution: demo --slow-host adds the leader-election
// deadlines to the controller manager and the scheduler, and nothing else;
// without it their blocks are typed as the lessons have them.
func TestSlowHostSubstitution(t *testing.T) {
	for _, tt := range []struct {
		block string
		slow  bool
		want  string
	}{
		{"kube-scheduler --kubeconfig=admin.conf\n", false, "kube-scheduler --kubeconfig=admin.conf\n"},
		{"kube-scheduler --kubeconfig=admin.conf\n", true, "kube-scheduler --kubeconfig=admin.conf \\\n  --leader-elect-lease-duration=120s \\\n  --leader-elect-renew-deadline=100s\n"},
		{"kube-controller-manager \\\n  --kubeconfig=admin.conf\n", false, "kube-controller-manager \\\n  --kubeconfig=admin.conf\n"},
		{"kube-controller-manager \\\n  --kubeconfig=admin.conf\n", true, "kube-controller-manager \\\n  --leader-elect-lease-duration=120s \\\n  --leader-elect-renew-deadline=100s \\\n  --kubeconfig=admin.conf\n"},
		{"kubectl get pods\n", true, "kubectl get pods\n"},
	} {
		l := Layout{WorkDir: "/w", ContainerdAddress: "/w/c.sock", CNIConfDir: "/etc/cni/net.d", SlowHost: tt.slow}
		if got := Substitute(l, tt.block); got != tt.want {
			t.Errorf("Substitute(slow %v, %q) = %q, want %q", tt.slow, tt.block, got, tt.want)
		}
	}
}
