package report

// The bytes a coloured report must hold, written out here rather than taken
// from internal/iostreams, so that the tests do not trust the code they check.
const (
	green = "\x1b[32m"
	red   = "\x1b[31m"
	reset = "\x1b[0m"
)
