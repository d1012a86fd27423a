package proc

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/kubetutor/kubetutor/internal/fsutil"
)

// commLen is how much of a command name the kernel keeps (TASK_COMM_LEN
// less the terminating NUL).
const commLen = 15

// Table is a machine's processes as its proc file system shows them.
type Table struct {
	// Dir is the proc file system: "/proc", or the one under a host root.
	Dir string
}

// Entry is one process of a Table, from its stat file.
type Entry struct {
	PID, PPID int
	// State is the one-letter state: R, S, D, Z (zombie), X (dead) ...
	State string
	// StartTicks is when it started, in clock ticks after boot; -1 when
	// the stat file does not say.
	StartTicks int64
}

// Live finds a live process (not a zombie, not dead) whose command name is
// name, as the kernel truncates it, and that skip (when not nil) does not
// pass over. A zombie does not count: a component stopped after its parent
// exited stays one for good where PID 1 reaps no orphans.
func (t Table) Live(name string, skip func(Entry) bool) (Entry, bool) {
	if len(name) > commLen {
		name = name[:commLen]
	}
	entries, err := os.ReadDir(t.Dir)
	if err != nil {
		return Entry{}, false
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		p, comm, ok := t.stat(pid)
		if !ok || comm != name || p.State == "Z" || p.State == "X" {
			continue
		}
		if skip != nil && skip(p) {
			continue
		}
		return p, true
	}
	return Entry{}, false
}

// stat reads pid's stat file: the process and its command name.
func (t Table) stat(pid int) (p Entry, comm string, ok bool) {
	data, err := fsutil.ReadFile(filepath.Join(t.Dir, strconv.Itoa(pid), "stat"), fsutil.LimitSmall)
	if err != nil {
		return Entry{}, "", false
	}
	st := string(data)
	open, end := strings.IndexByte(st, '('), strings.LastIndexByte(st, ')')
	if open < 0 || end < open {
		return Entry{}, "", false
	}
	// After the command: state (field 3), ppid (4) ... starttime (22).
	f := strings.Fields(st[end+1:])
	if len(f) < 2 {
		return Entry{}, "", false
	}
	p = Entry{PID: pid, State: f[0], StartTicks: -1}
	p.PPID, _ = strconv.Atoi(f[1])
	if len(f) > 19 {
		if ticks, err := strconv.ParseInt(f[19], 10, 64); err == nil {
			p.StartTicks = ticks
		}
	}
	return p, st[open+1 : end], true
}

// Alive reports whether pid is a live process (not a zombie, not dead) of
// the table.
func (t Table) Alive(pid int) bool {
	st, ok := t.State(pid)
	return ok && st != "Z" && st != "X"
}

// State is pid's one-letter state (R, S, T, Z ...), if the table has it.
func (t Table) State(pid int) (string, bool) {
	p, _, ok := t.stat(pid)
	return p.State, ok
}

// LiveAll finds every live process (not a zombie, not dead) whose command
// name is name, as the kernel truncates it, in pid order.
func (t Table) LiveAll(name string) []Entry {
	if len(name) > commLen {
		name = name[:commLen]
	}
	entries, err := os.ReadDir(t.Dir)
	if err != nil {
		return nil
	}
	var out []Entry
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, comm, ok := t.stat(pid); ok && comm == name && p.State != "Z" && p.State != "X" {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b Entry) int { return a.PID - b.PID })
	return out
}

// Named reports whether pid is a live process whose command name is name
// (truncated as the kernel keeps it): the same program as when it was found.
func (t Table) Named(pid int, name string) bool {
	if len(name) > commLen {
		name = name[:commLen]
	}
	p, comm, ok := t.stat(pid)
	return ok && comm == name && p.State != "Z" && p.State != "X"
}
