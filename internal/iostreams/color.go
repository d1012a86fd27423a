package iostreams

// The ANSI SGR codes kubetutor colours with: the only place they are written.
const (
	bold   = "\x1b[1m"
	dim    = "\x1b[2m"
	red    = "\x1b[31m"
	green  = "\x1b[32m"
	yellow = "\x1b[33m"
	cyan   = "\x1b[36m"
	reset  = "\x1b[0m"
)

// ColorScheme paints text with ANSI colours when Enabled, and leaves it as
// is otherwise. The zero value paints nothing.
type ColorScheme struct {
	Enabled bool
}

// ColorScheme is the scheme for s's output: coloured when s.Color.
func (s *IOStreams) ColorScheme() ColorScheme { return ColorScheme{Enabled: s.Color} }

func (c ColorScheme) paint(code, s string) string {
	if !c.Enabled {
		return s
	}
	return code + s + reset
}

// Bold, Dim, Red, Green, Yellow and Cyan paint s.
func (c ColorScheme) Bold(s string) string   { return c.paint(bold, s) }
func (c ColorScheme) Dim(s string) string    { return c.paint(dim, s) }
func (c ColorScheme) Red(s string) string    { return c.paint(red, s) }
func (c ColorScheme) Green(s string) string  { return c.paint(green, s) }
func (c ColorScheme) Yellow(s string) string { return c.paint(yellow, s) }
func (c ColorScheme) Cyan(s string) string   { return c.paint(cyan, s) }

// SuccessIcon is a green ✓: passed, done.
func (c ColorScheme) SuccessIcon() string { return c.Green("✓") }

// FailureIcon is a red ✗: failed, not passing yet.
func (c ColorScheme) FailureIcon() string { return c.Red("✗") }

// WarningIcon is a yellow !.
func (c ColorScheme) WarningIcon() string { return c.Yellow("!") }

// ErrorIcon is a red ?: could not be checked.
func (c ColorScheme) ErrorIcon() string { return c.Red("?") }

// SkipIcon is a dim ·: skipped.
func (c ColorScheme) SkipIcon() string { return c.Dim("·") }
