// Package content holds the course's prose: one Markdown lesson per step,
// plus a welcome and a troubleshooting lesson. Nothing but words, commands
// and pictures in text; the lessons package loads and validates it.
package content

import "embed"

// Lessons holds lessons/<id>.md.
//
//go:embed lessons/*.md
var Lessons embed.FS
