package i18n

import (
	"io/fs"
	"os"
	"regexp"
	"sort"
	"testing"
)

func TestEveryLanguageHasEveryKey(t *testing.T) {
	for _, lang := range Languages[1:] {
		for _, k := range Keys("en") {
			if _, ok := catalogue[lang][k]; !ok {
				t.Errorf("%s lacks %q", lang, k)
			}
		}
		for _, k := range Keys(lang) {
			if _, ok := catalogue["en"][k]; !ok {
				t.Errorf("%s has %q which English lacks", lang, k)
			}
		}
	}
}

// keyRe finds the literal keys templates pass to .T / $.T / FieldError.
var keyRe = regexp.MustCompile(`\.T "([a-z0-9_.-]+)"`)

func TestTemplatesUseOnlyCatalogueKeys(t *testing.T) {
	root := os.DirFS("../../templates")
	n := 0
	err := fs.WalkDir(root, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(root, path)
		if err != nil {
			return err
		}
		for _, m := range keyRe.FindAllStringSubmatch(string(b), -1) {
			n++
			if !Has(m[1]) {
				t.Errorf("%s uses %q, not in the catalogue", path, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 50 {
		t.Fatalf("found only %d keys in templates: is the pattern still right?", n)
	}
}

func TestMatch(t *testing.T) {
	cases := map[string]string{
		"":                        "en",
		"ko":                      "ko",
		"ko-KR,ko;q=0.9,en;q=0.8": "ko",
		"en-US,en;q=0.9,ko;q=0.8": "en",
		"fr-FR,ko;q=0.5":          "ko",
		"de":                      "en",
		"en;q=0.1, ko;q=0.9":      "ko",
		"*":                       "en",
		"garbage;;;q=":            "en",
	}
	for in, want := range cases {
		if got := Match(in); got != want {
			t.Errorf("Match(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTFormatsAndFallsBack(t *testing.T) {
	if got := T("ko", "dash.heading", "앨리스"); got != "앨리스님, 안녕하세요" {
		t.Errorf("got %q", got)
	}
	if got := T("ko", "api.token.expired"); got != "토큰이 만료되었습니다" {
		t.Errorf("seed wording changed: %q", got)
	}
	if got := T("xx", "err.404"); got != T("en", "err.404") {
		t.Errorf("unknown language did not fall back to English: %q", got)
	}
	keys := Keys("en")
	sort.Strings(keys)
	if len(keys) == 0 {
		t.Fatal("empty catalogue")
	}
}
