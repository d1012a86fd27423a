package cli

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal of cols×rows and returns its two ends.
func openPTY(t *testing.T, cols, rows uint16) (master, tty *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal to run kubetutor in: %v", err)
	}
	mfd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		t.Fatalf("unlock the pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(mfd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		t.Fatalf("pseudo-terminal number: %v", err)
	}
	if tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0); err != nil {
		master.Close()
		t.Skipf("open the terminal end of the pseudo-terminal: %v", err)
	}
	if err := unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Col: cols, Row: rows}); err != nil {
		master.Close()
		tty.Close()
		t.Fatalf("set the terminal size: %v", err)
	}
	return master, tty
}

// TestDefect18StartEndsOnSIGTERM is issue 18 defect 7: `start` on a
// terminal, with a silent API server in the kubeconfig, ignored SIGTERM one
// run in three (bubbletea's own signal handler blocked the form's shutdown,
// or the pager showing the lesson never got the signal) until its watchdog
// gave up after 5 seconds. Each run here is kubetutor (this test binary as
// kubetutor) in a pseudo-terminal of its own, sent SIGTERM at a random
// moment 1 to 4 seconds after it started: at its menu (a tall terminal),
// or in the pager showing the welcome (a short one). Each must exit, with
// status 143, within a second of the signal.
func TestDefect18StartEndsOnSIGTERM(t *testing.T) {
	cases := []struct {
		name string
		rows uint16
		runs int
	}{
		{"at the menu", 400, 20},
		{"in the pager showing the welcome", 30, 6},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var wg sync.WaitGroup
			slots := make(chan struct{}, 4) // at most 4 at once on a small machine
			for i := range tc.runs {
				wg.Add(1)
				slots <- struct{}{}
				go func() {
					defer wg.Done()
					defer func() { <-slots }()
					delay := time.Second + rand.N(3*time.Second)
					if msg := startAndTerm(t, tc.rows, delay); msg != "" {
						t.Errorf("run %d (SIGTERM %s after start): %s", i, delay.Round(time.Millisecond), msg)
					}
				}()
			}
			wg.Wait()
		})
	}
}

// startAndTerm runs `kubetutor start` in a terminal of rows lines, sends it
// SIGTERM after delay and returns what went wrong, or "".
func startAndTerm(t *testing.T, rows uint16, delay time.Duration) string {
	d := &defectEnv{t: t, wd: t.TempDir(), state: t.TempDir()}
	defer func() {
		for _, c := range d.cleanup {
			c()
		}
	}()
	fakeTools(t, d.wd)
	d.kubeconfigFor("https://" + d.silentTCP())
	master, tty := openPTY(t, 100, rows)
	defer master.Close()
	cmd := exec.Command(os.Args[0], append(globalArgs(d), "start")...)
	// The learner's terminal: colour, the default pager (less, if there).
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "NO_COLOR", "KUBETUTOR_PAGER", "PAGER", "LESS", "TERM", "KUBECONFIG":
		default:
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "KUBETUTOR_CLI_TEST_MAIN=1", "TERM=xterm")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		tty.Close()
		t.Fatal(err)
	}
	tty.Close()
	var out syncBuffer
	go io.Copy(&out, master) // ends with an error once the terminal is gone
	waited := make(chan struct{})
	go func() { cmd.Wait(); close(waited) }()
	defer func() {
		select {
		case <-waited:
		default:
			cmd.Process.Kill()
			<-waited
		}
	}()
	select {
	case <-waited:
		return "exited before the signal:\n" + printable(out.String())
	case <-time.After(delay):
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Sprintf("send SIGTERM: %v", err)
	}
	sent := time.Now()
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
	}
	took := time.Since(sent)
	if cmd.ProcessState == nil {
		return "still running 5 s after SIGTERM:\n" + printable(out.String())
	}
	var problems []string
	if took > time.Second {
		problems = append(problems, fmt.Sprintf("exited %s after SIGTERM, want within 1s", took.Round(time.Millisecond)))
	}
	if code := cmd.ProcessState.ExitCode(); code != 143 {
		problems = append(problems, fmt.Sprintf("exit status %d, want 143", code))
	}
	time.Sleep(50 * time.Millisecond) // the last output, on its way from the terminal
	if o := out.String(); strings.Contains(o, "did not stop in time") {
		problems = append(problems, "the watchdog ended it")
	}
	if problems == nil {
		return ""
	}
	return strings.Join(problems, "; ") + ":\n" + printable(out.String())
}

// printable shows the tail of terminal output with its escapes visible.
func printable(s string) string {
	if len(s) > 600 {
		s = s[len(s)-600:]
	}
	return strings.ReplaceAll(s, "\x1b", `\x1b`)
}

// TestDefect18StartMenuInATinyTerminal is issue 18 defect 13: in a 20×5
// terminal, `start`'s menu showed the first lines of its wrapped title and
// no choice at all. A terminal too small for the form gets the numbered
// choices instead, whose text scrolls; a tall one keeps the form.
func TestDefect18StartMenuInATinyTerminal(t *testing.T) {
	for _, tc := range []struct {
		name       string
		cols, rows uint16
		want       string // in the output once the menu asks
		absent     string
	}{
		{"20×5: numbered choices", 20, 5, "Enter a number between 1 and", ""},
		{"100×40: the form", 100, 40, "Check now", "Enter a number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &defectEnv{t: t, wd: t.TempDir(), state: t.TempDir()}
			fakeTools(t, d.wd)
			master, tty := openPTY(t, tc.cols, tc.rows)
			defer master.Close()
			cmd := exec.Command(os.Args[0], append(globalArgs(d), "start")...)
			cmd.Env = append(os.Environ(), "KUBETUTOR_CLI_TEST_MAIN=1", "TERM=xterm", "NO_COLOR=1", "KUBETUTOR_PAGER=cat")
			cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
			if err := cmd.Start(); err != nil {
				tty.Close()
				t.Fatal(err)
			}
			tty.Close()
			defer func() { cmd.Process.Kill(); cmd.Wait() }()
			var out syncBuffer
			go io.Copy(&out, master)
			deadline := time.Now().Add(time.Minute)
			for !strings.Contains(out.String(), tc.want) {
				if time.Now().After(deadline) {
					t.Fatalf("the menu never showed %q:\n%s", tc.want, printable(out.String()))
				}
				time.Sleep(50 * time.Millisecond)
			}
			if tc.absent != "" && strings.Contains(out.String(), tc.absent) {
				t.Errorf("the output has %q:\n%s", tc.absent, printable(out.String()))
			}
			if tc.rows < 10 {
				if !strings.Contains(out.String(), "Check now") {
					t.Errorf("no choice shown:\n%s", printable(out.String()))
				}
				// The numbered choice is taken: 3, a hint.
				master.Write([]byte("3\n"))
				for !strings.Contains(out.String(), "Hint 1 of") {
					if time.Now().After(deadline) {
						t.Fatalf("choice 3 gave no hint:\n%s", printable(out.String()))
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
		})
	}
}

func TestWrappedLines(t *testing.T) {
	for _, tc := range []struct {
		s     string
		width int
		want  int
	}{
		{"", 10, 1},
		{"what next?", 18, 1},
		{"Step 1/13 · Get the tools and binaries — what next?", 18, 4},
		{"Step 1/13 · Get the tools and binaries — what next?", 78, 1},
		{"abcdefghijklmnopqrstuvwxyz", 10, 3},
		{"a b", 0, 2},
	} {
		if got := wrappedLines(tc.s, tc.width); got != tc.want {
			t.Errorf("wrappedLines(%q, %d) = %d, want %d", tc.s, tc.width, got, tc.want)
		}
	}
}
