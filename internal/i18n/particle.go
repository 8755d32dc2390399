package i18n

import (
	"strings"
	"unicode"
)

// Korean particles change with the sound that ends the word before them:
// 을/를, 이/가, 은/는, 과/와 take their first form after a final consonant
// (받침), and (으)로 takes 으로 after a final consonant other than ㄹ.
// Catalogue messages write the pair as these markers after a placeholder
// ("%s을(를) 삭제할까요?"); T replaces each marker with the right form, so
// that no "을(를)" reaches a page.
var particleMarkers = []struct {
	marker, final, open string
	rieulOpen           bool // after ㄹ the open form (로, not 으로)
}{
	{"을(를)", "을", "를", false},
	{"이(가)", "이", "가", false},
	{"은(는)", "은", "는", false},
	{"과(와)", "과", "와", false},
	{"(으)로", "으로", "로", true},
}

// Particle returns the form of the particle marker (one of "을(를)",
// "이(가)", "은(는)", "과(와)", "(으)로") that follows word.
func Particle(word, marker string) string {
	for _, m := range particleMarkers {
		if m.marker == marker {
			final, rieul := finalSound(word)
			if final && !(rieul && m.rieulOpen) {
				return m.final
			}
			return m.open
		}
	}
	return marker
}

// resolveParticles replaces every particle marker in s by the form the
// text before it calls for.
func resolveParticles(s string) string {
	if !strings.Contains(s, "(") {
		return s
	}
	for _, m := range particleMarkers {
		for {
			i := strings.Index(s, m.marker)
			if i < 0 {
				break
			}
			s = s[:i] + Particle(s[:i], m.marker) + s[i+len(m.marker):]
		}
	}
	return s
}

// latinFinal: how the last letter of a Latin word ends when a Korean reader
// spells it out (엘, 엠, 엔, 알 end in a consonant; 에이, 비, 씨, ... do not).
var latinFinal = map[rune]bool{'l': true, 'm': true, 'n': true, 'r': true}

// latinWords are common endings of hosts that Korean readers say as a word
// rather than letter by letter, and whose word ends in a consonant where
// its last letter's name does not (닷넷, 앱, 샵, 웹, 랩, 클럽, 챗, 봇).
var latinWords = []string{"net", "app", "shop", "web", "lab", "club", "chat", "bot"}

// finalSound reports whether the text ends, as a Korean reader says it,
// in a final consonant, and whether that consonant is ㄹ. Closing quotes,
// brackets and punctuation are skipped; a Hangul syllable is read as
// written, a Latin word by its letter's name (or as a common word, above),
// a number by its last digit (0 ends 영, 십, 백, 천 and 만 alike).
func finalSound(text string) (final, rieul bool) {
	s := strings.TrimRightFunc(text, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsPunct(r) && r != '%'
	})
	if s == "" {
		return false, false
	}
	rs := []rune(s)
	r := rs[len(rs)-1]
	switch {
	case r >= 0xAC00 && r <= 0xD7A3: // Hangul syllable
		jong := (r - 0xAC00) % 28
		return jong != 0, jong == 8
	case r >= '0' && r <= '9':
		switch r {
		case '0', '3', '6': // 영·십…, 삼, 육
			return true, false
		case '1', '7', '8': // 일, 칠, 팔
			return true, true
		}
		return false, false // 이, 사, 오, 구
	case unicode.IsLetter(r) && r < 0x80:
		lower := strings.ToLower(s)
		for _, w := range latinWords {
			if strings.HasSuffix(lower, w) && (len(lower) == len(w) || !isLatinLetter(rune(lower[len(lower)-len(w)-1]))) {
				return true, false
			}
		}
		c := unicode.ToLower(r)
		return latinFinal[c], c == 'l' || c == 'r'
	}
	return false, false
}

func isLatinLetter(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }
