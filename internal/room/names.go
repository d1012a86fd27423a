package room

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// CleanName checks and tidies a learner's name: surrounding space trimmed,
// NFC, every run of spaces (U+00A0, U+3000...) made one plain space, 1 to MaxNameRunes
// characters. It refuses what would make the name look like another, or
// rearrange the page around it: control characters, bidirectional controls
// (U+202A–U+202E, U+2066–U+2069, U+200E/F, U+061C), zero-width and other
// invisible characters (U+200B–U+200D, U+2060, U+FEFF, every other format
// character, the default-ignorable fillers), private-use and unassigned
// code points, and a name with nothing visible. Markup is allowed: the
// dashboard shows names as text.
func CleanName(name string) (string, error) {
	if !utf8.ValidString(name) {
		return "", fmt.Errorf("the name is not UTF-8 text")
	}
	name = strings.TrimSpace(name)
	for _, r := range name {
		if err := nameRune(r); err != nil {
			return "", err
		}
	}
	name = strings.Join(strings.FieldsFunc(norm.NFC.String(name), unicode.IsSpace), " ")
	switch {
	case name == "":
		return "", fmt.Errorf("the name is empty")
	case utf8.RuneCountInString(name) > MaxNameRunes:
		return "", fmt.Errorf("the name is longer than %d characters", MaxNameRunes)
	}
	visible := false
	for _, r := range name {
		// NFC composes, never makes a refused character; checked again all
		// the same, so the rule holds of what is kept.
		if err := nameRune(r); err != nil {
			return "", err
		}
		if unicode.In(r, unicode.L, unicode.N, unicode.P, unicode.S) && !unicode.Is(unicode.Variation_Selector, r) && r != '\u2800' {
			visible = true
		}
	}
	if !visible {
		return "", fmt.Errorf("the name has no visible character")
	}
	return name, nil
}

// nameRune says why r has no place in a name.
func nameRune(r rune) error {
	switch {
	case isBidiControl(r):
		return fmt.Errorf("the name holds a bidirectional control character (%U), which reorders the text around it", r)
	case unicode.IsControl(r), unicode.In(r, unicode.Zl, unicode.Zp):
		return fmt.Errorf("the name holds a control character (%U)", r)
	case unicode.IsSpace(r):
		return nil // made a plain space
	case unicode.Is(unicode.Variation_Selector, r):
		return nil // emoji presentation (❤️); dropped from nameKey
	case unicode.Is(unicode.Cf, r), unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r), r == '\u2800':
		return fmt.Errorf("the name holds an invisible character (%U)", r)
	case !unicode.IsGraphic(r):
		// Private use, surrogates, unassigned: shown as anything or nothing.
		return fmt.Errorf("the name holds a character with no agreed look (%U)", r)
	}
	return nil
}

func isBidiControl(r rune) bool {
	return (r >= '\u202A' && r <= '\u202E') || (r >= '\u2066' && r <= '\u2069') ||
		r == '\u200E' || r == '\u200F' || r == '\u061C'
}

// nameKey is what makes two names "the same name" in a room. It is a
// function of the name's NFC form case-folded (so ADA is ada, and a
// decomposed ë is ë), which it then takes further: NFKC (ﬁ is fi,
// full-width Ａ is A), variation selectors dropped, runs of space made one,
// and the Cyrillic, Greek and Armenian letters drawn like Latin ones mapped
// to those (Cyrillic а is Latin a). The look-alike map is a short
// hand-made table of lower-case letters, mapped as their capitals look
// (Greek ν as Ν, so n), not the whole Unicode confusables skeleton
// (UTS #39, thousands of entries, which no dependency of ours ships): it
// catches the usual mixed-script spoofs of Latin names, not every
// look-alike there is.
func nameKey(name string) string {
	s := cases.Fold().String(norm.NFC.String(name))
	s = cases.Fold().String(norm.NFKC.String(s))
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		if unicode.Is(unicode.Variation_Selector, r) {
			continue
		}
		if l, ok := lookAlike[r]; ok {
			r = l
		}
		b.WriteRune(r)
	}
	return strings.Join(strings.Fields(norm.NFC.String(b.String())), " ")
}

// lookAlike maps case-folded letters of other scripts to the Latin letter
// they, or their capitals, are drawn like.
var lookAlike = map[rune]rune{
	// Cyrillic
	'а': 'a', 'в': 'b', 'с': 'c', 'ԁ': 'd', 'е': 'e', 'һ': 'h', 'н': 'h', 'і': 'i',
	'ӏ': 'i', 'ј': 'j', 'к': 'k', 'м': 'm', 'о': 'o', 'р': 'p', 'ԛ': 'q', 'ѕ': 's',
	'т': 't', 'ѵ': 'v', 'ԝ': 'w', 'х': 'x', 'у': 'y', 'ү': 'y',
	// Greek
	'α': 'a', 'β': 'b', 'ϲ': 'c', 'ε': 'e', 'η': 'h', 'ι': 'i', 'ϳ': 'j', 'κ': 'k',
	'μ': 'm', 'ν': 'n', 'ο': 'o', 'ρ': 'p', 'τ': 't', 'χ': 'x', 'υ': 'y', 'ζ': 'z',
	// Armenian
	'հ': 'h', 'ո': 'n', 'օ': 'o', 'ս': 'u',
	// Latin letters drawn like other Latin letters
	'ɑ': 'a', 'ɡ': 'g', 'ı': 'i', 'ȷ': 'j',
}
