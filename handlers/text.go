package handlers

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nodebird/nodebird-api/models"
)

// Free text that a user types and others see (a nickname: on the pages,
// in the admin console and in every token's "nick" claim) goes through
// cleanText, so that it cannot hide, reorder or fake what is shown around
// it. A form names the field; the message keys are "form.<field>.<problem>".

// The problems cleanText reports.
const (
	textRequired  = "required"  // nothing left once spaces are trimmed
	textLength    = "length"    // more characters than the field allows
	textInvalid   = "invalid"   // not UTF-8, or a control character (Cc)
	textInvisible = "invisible" // a format, default-ignorable or blank character
)

// textProblems are every problem cleanText can report: each text field has
// a message for each (TestTextFieldMessages).
var textProblems = []string{textRequired, textLength, textInvalid, textInvisible}

// textField is one free-text form field: its name, its longest length
// in characters (runes), and whether it keeps line breaks (cleanLines).
type textField struct {
	name  string
	max   int
	lines bool
}

// nickField is the nickname of the sign-up form (models.User.Nick is 15
// characters).
var nickField = textField{name: "nick", max: 15}

// labelField is a domain's label (optional: "" is no label), reasonField
// an admin's reason for revoking a domain, shown to its owner.
var (
	labelField  = textField{name: "label", max: 60}
	reasonField = textField{name: "reason", max: 200}
)

// contentField is a post's text (models.Post.Content): lines kept.
var contentField = textField{name: "content", max: models.MaxPostLen, lines: true}

// textFields lists every free-text field, for the test that checks their
// messages.
var textFields = []textField{nickField, labelField, reasonField, contentField}

// cleanLabel is a domain label as stored, "" for none.
func cleanLabel(s string) (string, string) {
	out, k := labelField.clean(s)
	if k == "form.label."+textRequired {
		return "", ""
	}
	return out, k
}

// clean returns the text as it is stored and shown, and the message key
// of its problem ("" when there is none).
func (f textField) clean(s string) (string, string) {
	clean := cleanText
	if f.lines {
		clean = cleanLines
	}
	out, problem := clean(s, f.max)
	if problem != "" {
		return out, "form." + f.name + "." + problem
	}
	return out, ""
}

// cleanText prepares s for others to see. Spaces are trimmed, and every
// other Unicode space (NBSP, U+3000, ...) becomes U+0020 with runs of them
// collapsed to one, as the PRECIS Nickname profile does (RFC 8266, 2.2),
// so that two names differing only in spacing cannot look alike. It then
// refuses, in this order: a text that is not UTF-8 or holds a control
// character (textInvalid); one that holds an invisible character
// (textInvisible, see invisible); an empty one (textRequired); one longer
// than maxRunes characters (textLength). It returns the cleaned text and the
// problem ("" when there is none).
func cleanText(s string, maxRunes int) (string, string) {
	if !utf8.ValidString(s) {
		return "", textInvalid
	}
	s = strings.TrimSpace(s)
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for i, r := range s {
		switch {
		case unicode.IsControl(r):
			return "", textInvalid
		case unicode.Is(unicode.White_Space, r):
			space = true
			continue
		case invisible(r) && !emojiPart(s, i, r):
			return "", textInvisible
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return measured(b.String(), maxRunes)
}

// measured is a cleaned text with the problem of its length, if any.
func measured(out string, maxRunes int) (string, string) {
	switch n := utf8.RuneCountInString(out); {
	case n == 0:
		return "", textRequired
	case n > maxRunes:
		return out, textLength
	}
	return out, ""
}

// cleanLines is cleanText for a text of several lines (a post): each line
// is cleaned by cleanText's rules; CR LF and CR become LF, blank lines at
// the ends are dropped and a run of blank lines inside becomes one. The
// length counts every character, line breaks included.
func cleanLines(s string, maxRunes int) (string, string) {
	if !utf8.ValidString(s) {
		return "", textInvalid
	}
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
	var b strings.Builder
	b.Grow(len(s))
	blank := false
	for line := range strings.SplitSeq(s, "\n") {
		out, problem := cleanText(line, len(line))
		switch {
		case problem == textRequired:
			blank = b.Len() > 0
			continue
		case problem != "":
			return "", problem
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
			if blank {
				b.WriteByte('\n')
			}
		}
		blank = false
		b.WriteString(out)
	}
	return measured(b.String(), maxRunes)
}

// blanks are the characters that draw nothing although they are neither
// format characters nor default-ignorable: the blank non-space characters
// that editors flag as invisible (the Zed editor's list; VS Code's
// InvisibleCharacters table has them too). The Hangul fillers are
// default-ignorable already and are listed for the reader.
var blanks = map[rune]bool{
	0x2800: true, // BRAILLE PATTERN BLANK (So)
	0xFFFC: true, // OBJECT REPLACEMENT CHARACTER (So): a placeholder with no content
	0x115F: true, // HANGUL CHOSEONG FILLER
	0x1160: true, // HANGUL JUNGSEONG FILLER
	0x3164: true, // HANGUL FILLER
	0xFFA0: true, // HALFWIDTH HANGUL FILLER
}

// invisible reports whether r is refused in free text as a character that
// shows nothing or changes how its neighbours are shown: every format
// character (general category Cf: bidirectional controls U+202A..202E and
// U+2066..2069, zero-width space U+200B, byte-order mark U+FEFF, Mongolian
// vowel separator U+180E, tags U+E0000.., ...), every default-ignorable code
// point (Unicode's Default_Ignorable_Code_Point, DerivedCoreProperties.txt,
// is Other_Default_Ignorable_Code_Point + Cf + Variation_Selector less a
// few Cf and White_Space characters: so the union below covers it, from the
// tables of Go's unicode package at unicode.Version), the noncharacters
// (U+FDD0..FDEF, U+xFFFE, U+xFFFF), and blanks.
func invisible(r rune) bool {
	return unicode.In(r, unicode.Cf, unicode.Other_Default_Ignorable_Code_Point,
		unicode.Variation_Selector, unicode.Noncharacter_Code_Point) || blanks[r]
}

// emojiPart reports whether the invisible character r at byte i of s is
// part of an emoji as phone keyboards type them, the one place where
// default-ignorables are needed: an emoji presentation selector (U+FE0E,
// U+FE0F) right after a symbol ("❤️"), or before a keycap ("1️⃣"), and a
// zero-width joiner between two symbols (with the first one's selector or
// skin tone: "👩🏽‍💻", "❤️‍🔥"). Nothing else is let through.
func emojiPart(s string, i int, r rune) bool {
	prev, next := rune(-1), rune(-1) // none
	if p, n := utf8.DecodeLastRuneInString(s[:i]); n > 0 {
		prev = p
	}
	if x, n := utf8.DecodeRuneInString(s[i+utf8.RuneLen(r):]); n > 0 {
		next = x
	}
	switch r {
	case 0xFE0E, 0xFE0F:
		return unicode.Is(unicode.So, prev) ||
			next == 0x20E3 && (prev >= '0' && prev <= '9' || prev == '#' || prev == '*')
	case 0x200D:
		return (unicode.Is(unicode.So, prev) || prev == 0xFE0F || prev >= 0x1F3FB && prev <= 0x1F3FF) &&
			unicode.Is(unicode.So, next)
	}
	return false
}
