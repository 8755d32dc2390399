// Package i18n holds the message catalogue (English and Korean) and picks
// a language from Accept-Language.
package i18n

import (
	"fmt"

	"golang.org/x/text/language"
)

// Languages the catalogue covers; the first is the fallback.
var Languages = []string{"en", "ko"}

var matcher = language.NewMatcher([]language.Tag{language.English, language.Korean})

// Supported reports whether l is a catalogue language.
func Supported(l string) bool { return l == "en" || l == "ko" }

// Match returns the catalogue language an Accept-Language header prefers.
func Match(acceptLanguage string) string {
	if acceptLanguage == "" || len(acceptLanguage) > 512 {
		return "en"
	}
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return "en"
	}
	_, i, conf := matcher.Match(tags...)
	if conf == language.No {
		return "en"
	}
	return Languages[i]
}

// Has reports whether key is in the catalogue.
func Has(key string) bool {
	_, ok := catalogue["en"][key]
	return ok
}

// T returns the message for key in lang, formatted with args. A key
// missing from lang falls back to English; an unknown key is returned as is
// (the catalogue test makes sure none is).
func T(lang, key string, args ...any) string {
	m, ok := catalogue[lang][key]
	if !ok {
		if m, ok = catalogue["en"][key]; !ok {
			return key
		}
	}
	if len(args) > 0 {
		m = fmt.Sprintf(m, args...)
	}
	if lang == "ko" {
		m = resolveParticles(m)
	}
	return m
}

// Keys lists every key of lang (for tests).
func Keys(lang string) []string {
	out := make([]string, 0, len(catalogue[lang]))
	for k := range catalogue[lang] {
		out = append(out, k)
	}
	return out
}

// register adds messages to the catalogue; each feature's file calls it
// from init with its own keys, in every language.
func register(msgs map[string]map[string]string) {
	for lang, m := range msgs {
		if catalogue[lang] == nil {
			catalogue[lang] = map[string]string{}
		}
		for k, v := range m {
			if _, dup := catalogue[lang][k]; dup {
				panic("i18n: key registered twice: " + lang + " " + k)
			}
			catalogue[lang][k] = v
		}
	}
}
