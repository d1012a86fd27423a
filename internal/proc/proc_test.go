package proc

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kubetutor/kubetutor/internal/fsutil"
)

// start starts s and makes sure the process is gone when the test ends.
func start(t *testing.T, s Spec) *Process {
	t.Helper()
	p, err := Start(s)
	if err != nil {
		t.Fatalf("Start(%q): %v", s.Shell, err)
	}
	t.Cleanup(func() {
		if exited, _ := p.Exited(); !exited {
			// Not Stop alone: should Stop be what is broken, the
			// process must not outlive the test.
			_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
			_ = syscall.Kill(p.Pid(), syscall.SIGKILL)
		}
		select {
		case <-p.Done():
		case <-time.After(5 * time.Second):
			t.Errorf("cleanup: %s (pid %d) survives SIGKILL", p.Name, p.Pid())
		}
	})
	return p
}

// waitDone waits for p to end and returns how it ended.
func waitDone(t *testing.T, p *Process) error {
	t.Helper()
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("%s (pid %d) still runs after 10 s", p.Name, p.Pid())
	}
	exited, err := p.Exited()
	if !exited {
		t.Fatalf("Done is closed but Exited says %s still runs", p.Name)
	}
	return err
}

// waitLog waits until p's log contains want: the process is ready.
func waitLog(t *testing.T, p *Process, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if data, _ := os.ReadFile(p.LogPath); strings.Contains(string(data), want) {
			return
		}
		if exited, err := p.Exited(); exited {
			t.Fatalf("%s exited (%v) before logging %q; log:\n%s", p.Name, err, want, p.Tail(20))
		}
	}
	t.Fatalf("%s did not log %q within 10 s; log:\n%s", p.Name, want, p.Tail(20))
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -2
}

func signalOf(err error) syscall.Signal {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return ws.Signal()
		}
	}
	return 0
}

// gone tells whether pid has ended: no such process, or a zombie nobody
// reaped yet (PID 1 of a container may not reap orphans).
func gone(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	// pid (comm) S ...: the state follows the last ')'.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X')
}

func TestStartRunsTheShellLine(t *testing.T) {
	tests := []struct {
		name     string
		shell    string
		env      []string
		before   string // log content before Start
		wantLog  string
		wantCode int
	}{
		{
			name:    "stdout and stderr both go to the log",
			shell:   `sh -c 'echo out; echo err >&2'`,
			wantLog: "out\nerr\n",
		},
		{
			name:    "Env is added and quoting works as typed",
			shell:   `printf '<%s>\n' "$GREETING" 'two words'`,
			env:     []string{"GREETING=hello there"},
			wantLog: "<hello there>\n<two words>\n",
		},
		{
			name: "a line continuation, as in the lessons",
			shell: `printf '%s\n' \
  one \
  two`,
			wantLog: "one\ntwo\n",
		},
		{
			name:    "the log is appended to, not truncated",
			shell:   `echo second`,
			before:  "first\n",
			wantLog: "first\nsecond\n",
		},
		{
			name:     "the exit status is kept",
			shell:    `sh -c 'echo failing; exit 3'`,
			wantLog:  "failing\n",
			wantCode: 3,
		},
		{
			name:     "a missing command is bash's 127, its message in the log",
			shell:    `kubetutor-no-such-command --flag`,
			wantLog:  "kubetutor-no-such-command",
			wantCode: 127,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			logPath := filepath.Join(dir, "c.log")
			if tc.before != "" {
				if err := os.WriteFile(logPath, []byte(tc.before), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			p := start(t, Spec{Name: "c", Shell: tc.shell, Dir: dir, Env: tc.env, LogPath: logPath})
			if p.Name != "c" || p.LogPath != logPath {
				t.Errorf("Process{Name: %q, LogPath: %q}, want c and %s", p.Name, p.LogPath, logPath)
			}
			err := waitDone(t, p)
			if tc.wantCode == 0 && err != nil {
				t.Errorf("exit: %v, want success", err)
			}
			if tc.wantCode != 0 && exitCode(err) != tc.wantCode {
				t.Errorf("exit: %v, want status %d", err, tc.wantCode)
			}
			data, err := os.ReadFile(logPath)
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantCode == 127 {
				if !strings.Contains(string(data), tc.wantLog) {
					t.Errorf("log %q does not name %s", data, tc.wantLog)
				}
			} else if string(data) != tc.wantLog {
				t.Errorf("log %q, want %q", data, tc.wantLog)
			}
			if err := p.Stop(time.Second); err != nil {
				t.Errorf("Stop after exit: %v", err)
			}
		})
	}
}

func TestStartDir(t *testing.T) {
	dir := t.TempDir()
	p := start(t, Spec{Name: "pwd", Shell: "pwd -P", Dir: dir, LogPath: filepath.Join(t.TempDir(), "pwd.log")})
	if err := waitDone(t, p); err != nil {
		t.Fatal(err)
	}
	want, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Tail(1); got != want {
		t.Errorf("ran in %q, want %q", got, want)
	}
}

func TestStartRefuses(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.log")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(dir, "ran")
	tests := []struct {
		name    string
		spec    Spec
		wantErr string
		notReg  bool
	}{
		{"a FIFO as the log", Spec{Name: "f", Shell: "touch " + marker, LogPath: fifo}, "open log for f", true},
		{"a directory as the log", Spec{Name: "d", Shell: "touch " + marker, LogPath: dir}, "open log for d", true},
		{"a log in a missing directory", Spec{Name: "m", Shell: "touch " + marker, LogPath: filepath.Join(dir, "no", "m.log")}, "open log for m", false},
		{"a missing working directory", Spec{Name: "w", Shell: "touch " + marker, Dir: filepath.Join(dir, "nowhere"), LogPath: filepath.Join(dir, "w.log")}, "start w", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan struct{})
			var p *Process
			var err error
			go func() {
				defer close(done)
				p, err = Start(tc.spec)
			}()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Start blocked")
			}
			if err == nil {
				p.Stop(0)
				t.Fatalf("Start succeeded (pid %d)", p.Pid())
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q, want it to say %q", err, tc.wantErr)
			}
			var nr *fsutil.NotRegularError
			if errors.As(err, &nr) != tc.notReg {
				t.Errorf("error %q: NotRegularError %v, want %v", err, !tc.notReg, tc.notReg)
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	if _, err := os.Stat(marker); err == nil {
		t.Error("a refused command ran")
	}
}

func TestProcessGroupAndSession(t *testing.T) {
	mySID, err := unix.Getsid(0)
	if err != nil {
		t.Fatal(err)
	}
	for _, detach := range []bool{false, true} {
		t.Run("detach="+strconv.FormatBool(detach), func(t *testing.T) {
			p := start(t, Spec{Name: "sleep", Shell: "sleep 30", LogPath: filepath.Join(t.TempDir(), "s.log"), Detach: detach})
			pid := p.Pid()
			if pgid, err := syscall.Getpgid(pid); err != nil || pgid != pid {
				t.Errorf("process group %d (%v), want its own: %d", pgid, err, pid)
			}
			sid, err := unix.Getsid(pid)
			if err != nil {
				t.Fatal(err)
			}
			if detach && sid != pid {
				t.Errorf("detached: session %d, want a session of its own (%d)", sid, pid)
			}
			if !detach && sid != mySID {
				t.Errorf("not detached: session %d, want ours (%d)", sid, mySID)
			}
			// bash execs the command: the pid is sleep's own, not a shell's.
			var comm string
			for deadline := time.Now().Add(5 * time.Second); comm != "sleep" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				data, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
				comm = strings.TrimSpace(string(data))
			}
			if comm != "sleep" {
				t.Errorf("pid %d is %q, want sleep (bash -c exec)", pid, comm)
			}
			if exited, err := p.Exited(); exited {
				t.Fatalf("sleep 30 exited at once: %v", err)
			}
		})
	}
}

func TestStop(t *testing.T) {
	tests := []struct {
		name  string
		shell string
		ready string // a log line the process prints once it is set up
		grace time.Duration
		// wantSignal is how the process ends; minWait and maxWait bound
		// how long Stop takes.
		wantSignal       syscall.Signal
		minWait, maxWait time.Duration
	}{
		{
			name:       "SIGTERM ends a process that heeds it, before the grace",
			shell:      `sh -c 'echo ready; exec sleep 30'`,
			ready:      "ready",
			grace:      10 * time.Second,
			wantSignal: syscall.SIGTERM,
			maxWait:    5 * time.Second,
		},
		{
			name:       "SIGKILL after the grace for one that ignores SIGTERM",
			shell:      `sh -c 'trap "" TERM; echo ready; while :; do sleep 1; done'`,
			ready:      "ready",
			grace:      300 * time.Millisecond,
			wantSignal: syscall.SIGKILL,
			minWait:    300 * time.Millisecond,
			maxWait:    5 * time.Second,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := start(t, Spec{Name: "victim", Shell: tc.shell, LogPath: filepath.Join(t.TempDir(), "v.log")})
			waitLog(t, p, tc.ready)
			began := time.Now()
			if err := p.Stop(tc.grace); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			took := time.Since(began)
			if took < tc.minWait || took > tc.maxWait {
				t.Errorf("Stop took %v, want %v to %v", took, tc.minWait, tc.maxWait)
			}
			exited, err := p.Exited()
			if !exited {
				t.Fatal("Stop returned, but the process runs")
			}
			if sig := signalOf(err); sig != tc.wantSignal {
				t.Errorf("ended with %v (%v), want %v", sig, err, tc.wantSignal)
			}
			// A second Stop is a no-op.
			if err := p.Stop(tc.grace); err != nil {
				t.Errorf("second Stop: %v", err)
			}
		})
	}
}

// Stop signals the whole process group: a child the component started
// (as containerd starts shims) ends with it.
func TestStopEndsTheGroup(t *testing.T) {
	dir := t.TempDir()
	childPidFile := filepath.Join(dir, "child.pid")
	p := start(t, Spec{Name: "parent", Shell: `sh -c 'sleep 30 & echo $! > child.pid; echo ready; wait'`, Dir: dir, LogPath: filepath.Join(dir, "p.log")})
	waitLog(t, p, "ready")
	data, err := os.ReadFile(childPidFile)
	if err != nil {
		t.Fatal(err)
	}
	child, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(child, syscall.SIGKILL) })
	if pgid, _ := syscall.Getpgid(child); pgid != p.Pid() {
		t.Fatalf("child %d in group %d, want %d", child, pgid, p.Pid())
	}
	if gone(child) {
		t.Fatal("the child ended before Stop")
	}
	if err := p.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); !gone(child); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("child %d of the stopped group still runs", child)
		}
	}
}

func TestTailFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	five := write("five", "1\n2\n3\n4\n5\n")
	var big strings.Builder
	big.WriteString("FIRST LINE\n")
	for big.Len() <= tailBytes+1<<20 {
		big.WriteString("a line of the middle of a long log\n")
	}
	big.WriteString("next to last\nlast\n")
	bigPath := write("big", big.String())

	tests := []struct {
		name       string
		path       string
		n          int
		want       string
		wantPrefix string
	}{
		{"last lines", five, 2, "4\n5", ""},
		{"fewer lines than asked", five, 10, "1\n2\n3\n4\n5", ""},
		{"zero lines", five, 0, "", ""},
		{"negative", five, -1, "", ""},
		{"trailing blank lines trimmed", write("blank", "a\nb\n\n\n"), 2, "a\nb", ""},
		{"no trailing newline", write("nonl", "a\nb"), 1, "b", ""},
		{"empty file", write("empty", ""), 3, "", ""},
		{"invalid UTF-8 replaced", write("bin", "ok\nbad \xff\xfe end\n"), 1, "bad ? end", ""},
		{"missing", filepath.Join(dir, "nothing"), 3, "(no log at " + filepath.Join(dir, "nothing") + ")", ""},
		{"a FIFO is named, not read", fifo, 3, "", "(cannot read " + fifo + ": "},
		{"a directory is named, not read", dir, 3, "", "(cannot read " + dir + ": "},
		{"the end of a long log", bigPath, 2, "next to last\nlast", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan string)
			go func() { done <- TailFile(tc.path, tc.n) }()
			var got string
			select {
			case got = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("TailFile blocked")
			}
			if tc.wantPrefix != "" {
				if !strings.HasPrefix(got, tc.wantPrefix) || !strings.HasSuffix(got, ")") {
					t.Errorf("TailFile = %q, want %q...)", got, tc.wantPrefix)
				}
				return
			}
			if got != tc.want {
				t.Errorf("TailFile = %q, want %q", got, tc.want)
			}
		})
	}

	// Of a long log, at most its last 4 MiB are read.
	all := TailFile(bigPath, 1<<30)
	if strings.Contains(all, "FIRST LINE") {
		t.Error("TailFile read the start of a log longer than 4 MiB")
	}
	if len(all) > tailBytes || len(all) < tailBytes-100 {
		t.Errorf("TailFile of a long log returned %d bytes, want about %d", len(all), tailBytes)
	}
	if !strings.HasSuffix(all, "next to last\nlast") {
		t.Errorf("TailFile of a long log ends %q", all[max(0, len(all)-30):])
	}
}
