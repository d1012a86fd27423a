// Package content holds the course's prose: one Markdown lesson per step,
// plus a welcome and a troubleshooting lesson, and one text per drill.
// Nothing but words, commands and pictures in text; the lessons package
// loads and validates the lessons, package drills the drills.
package content

import "embed"

// Lessons holds lessons/<id>.md.
//
//go:embed lessons/*.md
var Lessons embed.FS

// Drills holds drills/<id>.md: one per drill of package drills, its words
// and the commands of its fix.
//
//go:embed drills/*.md
var Drills embed.FS
