package iostreams

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestColorScheme(t *testing.T) {
	on, off := ColorScheme{Enabled: true}, ColorScheme{}
	cases := []struct {
		name    string
		paint   func(ColorScheme) string
		colored string
		plain   string
	}{
		{"bold", func(c ColorScheme) string { return c.Bold("x") }, "\x1b[1mx\x1b[0m", "x"},
		{"dim", func(c ColorScheme) string { return c.Dim("x") }, "\x1b[2mx\x1b[0m", "x"},
		{"red", func(c ColorScheme) string { return c.Red("x") }, "\x1b[31mx\x1b[0m", "x"},
		{"green", func(c ColorScheme) string { return c.Green("x") }, "\x1b[32mx\x1b[0m", "x"},
		{"yellow", func(c ColorScheme) string { return c.Yellow("x") }, "\x1b[33mx\x1b[0m", "x"},
		{"cyan", func(c ColorScheme) string { return c.Cyan("x") }, "\x1b[36mx\x1b[0m", "x"},
		{"success", ColorScheme.SuccessIcon, "\x1b[32m✓\x1b[0m", "✓"},
		{"failure", ColorScheme.FailureIcon, "\x1b[31m✗\x1b[0m", "✗"},
		{"warning", ColorScheme.WarningIcon, "\x1b[33m!\x1b[0m", "!"},
		{"error", ColorScheme.ErrorIcon, "\x1b[31m?\x1b[0m", "?"},
		{"skip", ColorScheme.SkipIcon, "\x1b[2m·\x1b[0m", "·"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.paint(on); got != tc.colored {
				t.Errorf("enabled: got %q, want %q", got, tc.colored)
			}
			if got := tc.paint(off); got != tc.plain {
				t.Errorf("disabled: got %q, want %q", got, tc.plain)
			}
		})
	}
}

func TestIOStreamsColorScheme(t *testing.T) {
	s, _, _ := Test("")
	if s.ColorScheme().Enabled {
		t.Error("test streams (not a terminal) have colour enabled")
	}
	s.Color = true
	if !s.ColorScheme().Enabled {
		t.Error("Color set, colour scheme disabled")
	}
}

func TestStatus(t *testing.T) {
	took := func(time.Time) time.Duration { return 1234 * time.Millisecond }
	boom := errors.New("boom")
	cases := []struct {
		name    string
		color   bool
		write   func(Status) error
		want    string
		wantErr error
	}{
		{"run ok", false, func(s Status) error { return s.Run("Starting etcd", func() error { return nil }) },
			" • Starting etcd ...\n ✓ Starting etcd (1.23s)\n", nil},
		{"run failed", false, func(s Status) error { return s.Run("Starting etcd", func() error { return boom }) },
			" • Starting etcd ...\n ✗ Starting etcd (1.23s)\n", boom},
		{"run ok coloured", true, func(s Status) error { return s.Run("Starting etcd", func() error { return nil }) },
			" • Starting etcd ...\n \x1b[32m✓\x1b[0m Starting etcd (1.23s)\n", nil},
		{"run failed coloured", true, func(s Status) error { return s.Run("Starting etcd", func() error { return boom }) },
			" • Starting etcd ...\n \x1b[31m✗\x1b[0m Starting etcd (1.23s)\n", boom},
		{"info", true, func(s Status) error { s.Info("Already done: step %s passes", "certs"); return nil },
			" • Already done: step certs passes\n", nil},
		{"done", false, func(s Status) error { s.Done("Removed %d containers", 3); return nil },
			" ✓ Removed 3 containers\n", nil},
		{"failed", false, func(s Status) error { s.Failed("%v", boom); return nil },
			" ✗ boom\n", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			err := tc.write(Status{W: &b, CS: ColorScheme{Enabled: tc.color}, Since: took})
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Errorf("error %v, want %v", err, tc.wantErr)
			}
			if b.String() != tc.want {
				t.Errorf("got %q, want %q", b.String(), tc.want)
			}
		})
	}
}
