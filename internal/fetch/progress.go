package fetch

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Reporter shows what fetch does. Downloads call Start, then Progress as
// bytes arrive; Status shows a transient line (a terminal redraws it in
// place); Line prints a permanent line, ending any transient one.
type Reporter interface {
	Start(name string, size int64)
	Progress(done int64)
	Status(line string)
	Line(format string, a ...any)
}

// NewReporter returns a reporter writing to w: a progress bar redrawn with \r
// when tty is true, plain lines (the Line calls only) otherwise.
func NewReporter(w io.Writer, tty bool, width int) Reporter {
	if width < 40 {
		width = 80
	}
	return &textReporter{w: w, tty: tty, width: width, now: time.Now}
}

// Discard is a Reporter that shows nothing.
var Discard Reporter = discard{}

type discard struct{}

func (discard) Start(string, int64) {}
func (discard) Progress(int64)      {}
func (discard) Status(string)       {}
func (discard) Line(string, ...any) {}

type textReporter struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	width int
	now   func() time.Time

	name      string
	size      int64
	started   time.Time
	lastDraw  time.Time
	transient bool
}

func (r *textReporter) Start(name string, size int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.name, r.size, r.started, r.lastDraw = name, size, r.now(), time.Time{}
	r.draw(0, true)
}

func (r *textReporter) Progress(done int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.draw(done, r.size > 0 && done >= r.size)
}

func (r *textReporter) Status(line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.redraw(line)
}

func (r *textReporter) Line(format string, a ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clear()
	fmt.Fprintf(r.w, format+"\n", a...)
}

// draw redraws the bar, at most ten times a second unless forced.
func (r *textReporter) draw(done int64, force bool) {
	if !r.tty {
		return
	}
	now := r.now()
	if !force && now.Sub(r.lastDraw) < 100*time.Millisecond {
		return
	}
	r.lastDraw = now
	r.redraw(bar(r.name, done, r.size, now.Sub(r.started), r.width-1))
}

func (r *textReporter) redraw(line string) {
	if !r.tty {
		return
	}
	if line == "" {
		r.clear()
		return
	}
	fmt.Fprintf(r.w, "\r\x1b[K%s", line)
	r.transient = true
}

func (r *textReporter) clear() {
	if r.transient {
		fmt.Fprint(r.w, "\r\x1b[K")
		r.transient = false
	}
}

// bar renders "name [=====>    ]  45%  53.2/119.2 MB  12.1 MB/s" in width
// columns; with an unknown size, only the bytes so far.
func bar(name string, done, size int64, elapsed time.Duration, width int) string {
	rate := ""
	if s := elapsed.Seconds(); s > 0.5 {
		rate = "  " + FormatSize(int64(float64(done)/s)) + "/s"
	}
	if size <= 0 {
		return truncate(fmt.Sprintf("%s  %s%s", name, FormatSize(done), rate), width)
	}
	frac := float64(done) / float64(size)
	frac = min(max(frac, 0), 1)
	suffix := fmt.Sprintf(" %3d%%  %s/%s%s", int(frac*100), sizeNumber(done, size), FormatSize(size), rate)
	cells := width - len(name) - len(suffix) - 3
	if cells < 10 {
		return truncate(name+suffix, width)
	}
	fill := int(frac * float64(cells))
	b := strings.Repeat("=", fill)
	if fill < cells {
		b += ">" + strings.Repeat(" ", cells-fill-1)
	}
	return fmt.Sprintf("%s [%s]%s", name, b, suffix)
}

// FormatSize formats a byte count in decimal units: 119.2 MB, 3.4 kB, 42 B.
func FormatSize(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	default:
		return fmt.Sprintf("%d B", n)
	}
}

// sizeNumber formats done in the unit FormatSize(size) uses, without the unit.
func sizeNumber(done, size int64) string {
	s := FormatSize(size)
	unit := s[strings.LastIndexByte(s, ' ')+1:]
	div := map[string]float64{"GB": 1e9, "MB": 1e6, "kB": 1e3, "B": 1}[unit]
	if unit == "B" {
		return fmt.Sprint(done)
	}
	return fmt.Sprintf("%.1f", float64(done)/div)
}
