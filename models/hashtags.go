package models

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Hashtags are taken from a post's text as the seed took them
// (/#[^\s#]*/g): a '#' followed by the characters up to the next space or
// '#'. Each is stored without its '#', case-folded and in NFC (FoldHashtag).

const (
	// MaxHashtagLen is the longest hashtag, in characters (code points)
	// once folded; a longer one is not a hashtag (ignored, not truncated:
	// a cut word would be a tag nobody wrote).
	MaxHashtagLen = 15
	// MaxHashtagsPerPost: the first ten distinct hashtags of a post are
	// kept, the rest ignored.
	MaxHashtagsPerPost = 10
)

// FoldHashtag is the stored form of a hashtag (without its '#'): Unicode
// full case folding (golang.org/x/text/cases: "Go", "GO" and "go" are one
// tag, "Straße" is "strasse", where strings.ToLower would keep "straße"
// apart), then NFC, so that Korean typed as conjoining jamo (NFD, as some
// systems send it) is the same tag as the precomposed syllables. ok is
// false when the result cannot be a hashtag: empty, longer than
// MaxHashtagLen, or holding a space or '#'.
func FoldHashtag(s string) (tag string, ok bool) {
	if !utf8.ValidString(s) {
		return "", false
	}
	tag = norm.NFC.String(cases.Fold().String(norm.NFC.String(s)))
	if tag == "" || utf8.RuneCountInString(tag) > MaxHashtagLen ||
		strings.ContainsFunc(tag, func(r rune) bool { return r == '#' || unicode.IsSpace(r) }) {
		return "", false
	}
	return tag, true
}

// ParseHashtags returns the hashtags of a post's text, folded, in the order
// they first appear, each once, at most MaxHashtagsPerPost; words longer
// than MaxHashtagLen once folded are skipped.
func ParseHashtags(text string) []string {
	var tags []string
	seen := map[string]bool{}
	for rest := text; len(tags) < MaxHashtagsPerPost; {
		i := strings.IndexByte(rest, '#')
		if i < 0 {
			break
		}
		rest = rest[i+1:]
		end := strings.IndexFunc(rest, func(r rune) bool { return r == '#' || unicode.IsSpace(r) })
		if end < 0 {
			end = len(rest)
		}
		word := rest[:end]
		rest = rest[end:]
		if tag, ok := FoldHashtag(word); ok && !seen[tag] {
			seen[tag] = true
			tags = append(tags, tag)
		}
	}
	return tags
}
