package proc

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestCommandOutput(t *testing.T) {
	ctx := context.Background()
	both, err := Command{Path: "/bin/sh", Args: []string{"-c", "echo out; echo err >&2"}}.Output(ctx)
	if err != nil || !strings.Contains(both, "out\n") || !strings.Contains(both, "err\n") {
		t.Errorf("Output = %q, %v; want both streams", both, err)
	}
	stdout, err := Command{Path: "/bin/sh", Args: []string{"-c", "echo out; echo err >&2"}, StdoutOnly: true}.Output(ctx)
	if err != nil || stdout != "out\n" {
		t.Errorf("StdoutOnly: Output = %q, %v; want %q", stdout, err, "out\n")
	}
	if out, err := (Command{Path: "/bin/sh", Args: []string{"-c", "echo no; exit 3"}}).Output(ctx); err == nil || out != "no\n" {
		t.Errorf("a failing program: Output = %q, %v; want its output and an error", out, err)
	}
	big, err := Command{Path: "/bin/sh", Args: []string{"-c", "head -c 200000 /dev/zero"}}.Output(ctx)
	if err != nil || len(big) != MaxOutput {
		t.Errorf("a chatty program: %d bytes kept, %v; want %d", len(big), err, MaxOutput)
	}
}

// TestCommandKillsTheGroup: a wrapper whose child keeps the output pipe
// open must not hold Output past its timeout.
func TestCommandKillsTheGroup(t *testing.T) {
	start := time.Now()
	_, err := Command{Path: "/bin/sh", Args: []string{"-c", "sleep 30 & sleep 30"}, Timeout: 200 * time.Millisecond}.Output(context.Background())
	if err == nil {
		t.Fatal("Output of a program past its timeout: no error")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Output returned after %s; want soon after the 200ms timeout", d)
	}
}
