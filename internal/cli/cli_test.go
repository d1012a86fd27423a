package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubetutor/kubetutor/internal/iostreams"
	"github.com/kubetutor/kubetutor/lessons"
	"github.com/kubetutor/kubetutor/steps"
)

// fakeTools writes the programs of the tools step as tiny scripts.
func fakeTools(t *testing.T, dir string) {
	t.Helper()
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl", "etcd"} {
		script := fmt.Sprintf("#!/bin/sh\necho '%s version v1.37.2'\n", b)
		if err := os.WriteFile(filepath.Join(bin, b), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

type run struct {
	code        int
	out, errOut string
	state       string
}

// execute runs kubetutor in-process with scripted input, a fresh work dir
// and state dir unless given, and no terminal.
func execute(t *testing.T, workDir, stateDir, input string, args ...string) run {
	t.Helper()
	ios, out, errOut := iostreams.Test(input)
	f := &Factory{IO: ios, Now: func() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) }}
	all := append([]string{"--workdir", workDir, "--state-dir", stateDir, "--kubeconfig", filepath.Join(workDir, "admin.conf"),
		"--containerd-address", filepath.Join(workDir, "no.sock")}, args...)
	code := Execute(context.Background(), f, all)
	return run{code: code, out: out.String(), errOut: errOut.String(), state: stateDir}
}

func loadProgress(t *testing.T, stateDir string) *lessons.Progress {
	t.Helper()
	p, err := lessons.NewStore(stateDir).Load()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestWalkthroughAccessible drives `kubetutor start` through huh's
// accessible mode: a hint, a passing check, the next lesson opened, a skip
// (confirmed), quit.
func TestWalkthroughAccessible(t *testing.T) {
	wd, state := t.TempDir(), t.TempDir()
	fakeTools(t, wd)
	r := execute(t, wd, state, "3\n1\n1\n6\ny\n7\n", "start")
	if r.code != 0 {
		t.Fatalf("exit %d\nstderr: %s", r.code, r.errOut)
	}
	for _, want := range []string{
		"Welcome: a cluster from its parts",
		"Tools and binaries",
		"Step 1/" + nSteps + " · Get the tools and binaries — what next?",
		"1. Check now",
		"Hint 1 of 3: You need six programs",
		"✓ Step 1/" + nSteps + " tools (Get the tools and binaries): passes",
		"What just happened: Every program of the cluster is here",
		"Unlocked: Make the TLS certificates and a kubeconfig.",
		"Next: step 2/" + nSteps + " · Make the TLS certificates and a kubeconfig",
		"1. Open the next lesson",
		"Certificates and a kubeconfig",
		"Skip step certs?",
		"Skipped certs.",
		"etcd, the cluster's memory",
		"Progress saved.",
	} {
		if !strings.Contains(r.out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(r.out, "\x1b[") {
		t.Errorf("non-terminal output contains ANSI escapes")
	}
	p := loadProgress(t, state)
	if p.Steps["tools"].State != lessons.Done || p.Steps["tools"].Hints != 1 || p.Steps["certs"].State != lessons.Skipped || p.CurrentStep() != "etcd" {
		t.Errorf("progress %+v, current %s", p.Steps, p.CurrentStep())
	}

	// Resuming starts at etcd, without the welcome; closed input quits.
	r = execute(t, wd, state, "", "start")
	if r.code != 0 {
		t.Fatalf("resume: exit %d: %s", r.code, r.errOut)
	}
	if strings.Contains(r.out, "Welcome: a cluster from its parts") || !strings.Contains(r.out, "Step 3/"+nSteps+" · Start etcd") || !strings.Contains(r.out, "Progress saved.") {
		t.Errorf("resume output:\n%s", r.out)
	}
}

// TestWalkthroughVerdictBeforeNextLesson: after a passing check the
// verdict stays on screen, and the next lesson opens only when the learner
// asks for it (issue 19: a pager opened at once and hid the verdict); closed
// input or "Quit" there saves the progress and shows no lesson.
func TestWalkthroughVerdictBeforeNextLesson(t *testing.T) {
	const (
		verdict  = "✓ Step 1/"
		question = "Next: step 2/"
		lesson   = "# Certificates and a kubeconfig"
	)
	for _, tc := range []struct {
		name, input string
		wantLesson  bool
	}{
		{"Enter opens the next lesson", "1\n\n7\n", true},
		{"open it by number", "1\n1\n7\n", true},
		{"quit there", "1\n2\n", false},
		{"input closed there", "1\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wd, state := t.TempDir(), t.TempDir()
			fakeTools(t, wd)
			r := execute(t, wd, state, tc.input, "start")
			if r.code != 0 {
				t.Fatalf("exit %d\nstderr: %s", r.code, r.errOut)
			}
			v, q, l := strings.Index(r.out, verdict), strings.Index(r.out, question), strings.Index(r.out, lesson)
			if v < 0 || q < v {
				t.Fatalf("want the verdict, then the question %q; verdict at %d, question at %d:\n%s", question, v, q, r.out)
			}
			if tc.wantLesson != (l > q) || (!tc.wantLesson && l >= 0) {
				t.Errorf("next lesson shown: %v (at %d, question at %d), want %v:\n%s", l >= 0, l, q, tc.wantLesson, r.out)
			}
			if !tc.wantLesson && !strings.HasSuffix(strings.TrimSpace(r.out), "Run `kubetutor start` to continue where you left off.") {
				t.Errorf("quitting at the question does not end with the saved progress:\n%s", r.out)
			}
			if p := loadProgress(t, state); p.Steps["tools"].State != lessons.Done || p.CurrentStep() != "certs" {
				t.Errorf("progress %+v, current %s", p.Steps, p.CurrentStep())
			}
		})
	}
}

func TestWalkthroughDeclinedSkipAndBadInput(t *testing.T) {
	wd, state := t.TempDir(), t.TempDir()
	// "9" and "x" are rejected and asked again; the skip is declined; the
	// failing check shows its hint.
	r := execute(t, wd, state, "9\nx\n6\nn\n1\n7\n", "start")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.errOut)
	}
	for _, want := range []string{"Invalid: must be a number between 1 and 7", "✗ Step 1/" + nSteps + " tools", "hint: download it into bin/"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if p := loadProgress(t, state); p.Steps["tools"].State != "" {
		t.Errorf("declined skip recorded: %+v", p.Steps)
	}
}

func TestCheckCommand(t *testing.T) {
	wd := t.TempDir()
	fakeTools(t, wd)
	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"locate", []string{"check"}, 1, []string{"At step 1 of " + nSteps + ": tools passes; next: create the CA", "✗ Step 2/" + nSteps + " certs", "cert-files"}},
		{"one step passing", []string{"check", "tools"}, 0, []string{"✓ Step 1/" + nSteps + " tools"}},
		{"json", []string{"check", "tools", "-o", "json"}, 0, []string{`"current": "tools"`, `"status": "skip"`}},
		{"unknown step", []string{"check", "nope"}, 2, nil},
		{"bad output", []string{"check", "-o", "yaml"}, 2, nil},
		{"step and all", []string{"check", "tools", "--all"}, 2, nil},
		{"too many args", []string{"check", "a", "b"}, 2, nil},
		{"unknown flag", []string{"check", "--nope"}, 2, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := execute(t, wd, t.TempDir(), "", tc.args...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tc.code, r.out, r.errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, r.out)
				}
			}
			if tc.code == 2 && (!strings.HasPrefix(r.errOut, "error: ") || strings.Count(strings.TrimSpace(r.errOut), "\n") > 0) {
				t.Errorf("want a one-line diagnosis on stderr, got %q", r.errOut)
			}
		})
	}
}

func TestCheckRecordsPasses(t *testing.T) {
	wd, state := t.TempDir(), t.TempDir()
	fakeTools(t, wd)
	execute(t, wd, state, "", "check")
	if p := loadProgress(t, state); p.Steps["tools"].State != lessons.Done {
		t.Errorf("a passing step seen by check is not recorded: %+v", p.Steps)
	}
}

func TestHintLessonsShowReset(t *testing.T) {
	wd, state := t.TempDir(), t.TempDir()
	r := execute(t, wd, state, "", "hint")
	if r.code != 0 || !strings.Contains(r.out, "Hint 1 of 3 for tools") {
		t.Errorf("hint: %d %q", r.code, r.out)
	}
	r = execute(t, wd, state, "", "hint", "tools")
	if !strings.Contains(r.out, "Hint 2 of 3 for tools") {
		t.Errorf("second hint: %q", r.out)
	}
	r = execute(t, wd, state, "", "lessons")
	if r.code != 0 || !strings.Contains(r.out, "▸   tools") || !strings.Contains(r.out, "locked") {
		t.Errorf("lessons: %d\n%s", r.code, r.out)
	}
	rendered := execute(t, wd, state, "", "show", "scheduler")
	plain := execute(t, wd, state, "", "show", "scheduler", "--plain")
	if rendered.code != 0 || plain.code != 0 || !strings.HasPrefix(plain.out, "# kube-scheduler\n") {
		t.Errorf("show: %d %d\n%s", rendered.code, plain.code, plain.out)
	}
	// Rendered (notty): indented, wrapped, and not the Markdown source.
	if rendered.out == plain.out || !strings.Contains("\n"+rendered.out, "\n  # kube-scheduler") {
		t.Errorf("show did not render:\n%s", rendered.out)
	}
	// --commands: the step's blocks for the chosen variant, raw.
	r = execute(t, wd, state, "", "show", "containerd", "--commands", "--variant", "offline,no-systemd,cni-usr-lib")
	for _, want := range []string{"pgrep -a -x containerd", "CNI_BIN_DIR=/usr/lib/cni\n", "cat > /etc/containerd/config.toml <<EOF\nversion = 2\n", "\nEOF\n", DaemonComment + "\ncontainerd --config /etc/containerd/config.toml\n", "kubetutor images load\n"} {
		if r.code != 0 || !strings.Contains(r.out, want) {
			t.Errorf("show containerd --commands: %d, lacks %q:\n%s", r.code, want, r.out)
		}
	}
	for _, not := range []string{"systemctl", "/opt/cni/bin", "```", "ls /usr/lib/cni"} {
		if strings.Contains(r.out, not) {
			t.Errorf("show containerd --commands has %q (another variant, an illustration or Markdown):\n%s", not, r.out)
		}
	}
	r = execute(t, wd, state, "", "show", "containerd", "--commands", "--variant", "systemd,online,cni-opt")
	if !strings.Contains(r.out, "systemctl stop containerd\n") || !strings.Contains(r.out, "CNI_BIN_DIR=/opt/cni/bin\n") || strings.Contains(r.out, "images load") {
		t.Errorf("show containerd --commands for systemd, online, cni-opt:\n%s", r.out)
	}
	r = execute(t, wd, state, "", "show", "etcd", "--commands", "--variant", "windows")
	if r.code != 2 || !strings.Contains(r.errOut, `unknown variant "windows"`) {
		t.Errorf("show --variant windows: %d %q", r.code, r.errOut)
	}
	r = execute(t, wd, state, "", "show", "welcome", "--commands")
	if r.code != 2 {
		t.Errorf("show welcome --commands: %d %q", r.code, r.errOut)
	}
	// The last hint points at the commands and prints them, from column 0.
	execute(t, wd, state, "", "hint", "scheduler")
	execute(t, wd, state, "", "hint", "scheduler")
	r = execute(t, wd, state, "", "hint", "scheduler")
	if !strings.Contains(r.out, "kubetutor show scheduler --commands") || !strings.Contains(r.out, "\n"+DaemonComment+"\nkube-scheduler --kubeconfig=admin.conf\n") {
		t.Errorf("last hint for scheduler:\n%s", r.out)
	}
	r = execute(t, wd, state, "", "show", "nope")
	if r.code != 2 || !strings.Contains(r.errOut, `unknown lesson "nope"`) {
		t.Errorf("show nope: %d %q", r.code, r.errOut)
	}
	r = execute(t, wd, state, "", "reset")
	if r.code != 2 || !strings.Contains(r.errOut, "pass --yes") {
		t.Errorf("reset without a terminal: %d %q", r.code, r.errOut)
	}
	r = execute(t, wd, state, "", "reset", "--yes")
	if r.code != 0 {
		t.Errorf("reset --yes: %d %q", r.code, r.errOut)
	}
	if p := loadProgress(t, state); len(p.Steps) != 0 {
		t.Errorf("after reset: %+v", p.Steps)
	}
}

func TestCorruptProgressIsReportedNotFatal(t *testing.T) {
	wd, state := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(state, "progress.json"), []byte("{garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := execute(t, wd, state, "", "lessons")
	if r.code != 0 || !strings.Contains(r.errOut, "was unreadable") || !strings.Contains(r.out, "tools") {
		t.Errorf("exit %d\nstderr %q", r.code, r.errOut)
	}
}

func TestBadWorkdir(t *testing.T) {
	r := execute(t, filepath.Join(t.TempDir(), "missing"), t.TempDir(), "", "check")
	if r.code != 2 || !strings.Contains(r.errOut, "does not exist") {
		t.Errorf("exit %d %q", r.code, r.errOut)
	}
}

// TestCheckWatchJSON: a step that already passes returns at once, in the
// same JSON shape as check STEP -o json.
func TestCheckWatchJSON(t *testing.T) {
	wd := t.TempDir()
	fakeTools(t, wd)
	r := execute(t, wd, t.TempDir(), "", "check", "tools", "--watch", "-o", "json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.errOut)
	}
	for _, want := range []string{`"current": "tools"`, `"id": "tools"`, `"status": "pass"`, `"id": "cni"`, `"status": "skip"`} {
		if !strings.Contains(r.out, want) {
			t.Errorf("output lacks %s:\n%s", want, r.out)
		}
	}
	if strings.Contains(r.errOut, "Waiting") {
		t.Errorf("JSON mode printed progress: %q", r.errOut)
	}
}

// nSteps is the number of steps, as the walkthrough prints it ("Step 3/N").
var nSteps = strconv.Itoa(len(steps.IDs()))
