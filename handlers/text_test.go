package handlers

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/nodebird/nodebird-api/internal/i18n"
)

// defaultIgnorable is Default_Ignorable_Code_Point as Unicode 15.0's
// DerivedCoreProperties.txt lists it, copied here so that the test does
// not take its answer from the tables the code uses.
var defaultIgnorable = [][2]rune{
	{0x00AD, 0x00AD}, {0x034F, 0x034F}, {0x061C, 0x061C}, {0x115F, 0x1160}, {0x17B4, 0x17B5},
	{0x180B, 0x180D}, {0x180E, 0x180E}, {0x180F, 0x180F}, {0x200B, 0x200F}, {0x202A, 0x202E},
	{0x2060, 0x2064}, {0x2065, 0x2065}, {0x2066, 0x206F}, {0x3164, 0x3164}, {0xFE00, 0xFE0F},
	{0xFEFF, 0xFEFF}, {0xFFA0, 0xFFA0}, {0xFFF0, 0xFFF8}, {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A},
	{0xE0000, 0xE0000}, {0xE0001, 0xE0001}, {0xE0002, 0xE001F}, {0xE0020, 0xE007F},
	{0xE0080, 0xE00FF}, {0xE0100, 0xE01EF}, {0xE01F0, 0xE0FFF},
}

// TestCleanTextRefusesEveryIgnorableAndFormatCharacter: each
// default-ignorable code point, each format character (Cf) and each blank
// filler, put between two letters, is refused as invisible; each control
// character as invalid.
func TestCleanTextRefusesEveryIgnorableAndFormatCharacter(t *testing.T) {
	refused := func(r rune, want string) {
		t.Helper()
		for _, s := range []string{"a" + string(r) + "b", string(r) + "ab", "ab" + string(r), string(r)} {
			if _, p := cleanText(s, 15); p != want {
				t.Errorf("cleanText(%+q) = %q, want %q", s, p, want)
				return
			}
		}
	}
	n := 0
	for _, rg := range defaultIgnorable {
		for r := rg[0]; r <= rg[1]; r++ {
			refused(r, textInvisible)
			n++
		}
	}
	for r := rune(0); r <= unicode.MaxRune; r++ {
		switch {
		case unicode.Is(unicode.Cf, r):
			refused(r, textInvisible)
			n++
		case unicode.IsControl(r) && !unicode.IsSpace(r):
			refused(r, textInvalid)
		}
	}
	for _, r := range []rune{0x2800, 0xFFFC, 0x3164, 0x115F, 0x1160, 0xFFA0, 0xFDD0, 0xFFFE, 0x10FFFF} {
		refused(r, textInvisible)
	}
	if n < 4000 {
		t.Fatalf("only %d characters checked", n)
	}
}

func TestCleanText(t *testing.T) {
	for _, tc := range []struct{ in, want, problem string }{
		{"ann", "ann", ""},
		{"  Ann Lee  ", "Ann Lee", ""},
		{"한국어닉네임", "한국어닉네임", ""},
		{"가나다라마바사아자차카타파하가", "가나다라마바사아자차카타파하가", ""},   // 15 characters
		{"Ann\u00a0\u3000 \u2003Lee", "Ann Lee", ""}, // other spaces become one U+0020
		{"a\u2028b", "a b", ""},
		{"\u3000ann\u00a0", "ann", ""},
		{"<b>ann</b>", "<b>ann</b>", ""}, // escaped when shown, not refused
		{"émile", "émile", ""},
		{"e\u0301mile", "e\u0301mile", ""}, // a combining accent is visible
		{"ann❤️", "ann❤️", ""},             // emoji presentation selector after a symbol
		{"✔︎", "✔︎", ""},                   // text presentation selector
		{"1️⃣", "1️⃣", ""},                 // keycap
		{"👩🏽‍💻", "👩🏽‍💻", ""},               // skin tone and zero-width joiner
		{"❤️‍🔥", "❤️‍🔥", ""},
		{"🇰🇷", "🇰🇷", ""},
		{"", "", textRequired},
		{" \u3000\u00a0 ", "", textRequired},
		{"sixteen-chars-xx", "sixteen-chars-xx", textLength},
		{"\xff", "", textInvalid},
		{"a\x00b", "", textInvalid},
		{"a\tb", "", textInvalid},
		{"a\nb", "", textInvalid},
		{"a\u0085b", "", textInvalid},
		{"admin\u202Enimda", "", textInvisible}, // right-to-left override
		{"ad\u200Bmin", "", textInvisible},
		{"\uFEFFadmin", "", textInvisible},
		{"\u2066admin\u2069", "", textInvisible},
		{"\u3164", "", textInvisible},
		{"admin\u3164", "", textInvisible},
		{"\u115F\u1160", "", textInvisible},
		{"\uFFA0", "", textInvisible},
		{"\u2800", "", textInvisible},
		{"ad\u180Emin", "", textInvisible},
		{"admin\uFE0F", "", textInvisible}, // a selector after a letter shows nothing
		{"\uFE0F❤", "", textInvisible},
		{"2\uFE0F", "", textInvisible},               // no keycap follows
		{"ad\u200Dmin", "", textInvisible},           // a joiner between letters
		{"❤\u200D", "", textInvisible},               // a joiner with nothing to join
		{"^\u200D❤", "", textInvisible},              // ^ is a modifier symbol, not an emoji
		{"❤\uFE00", "", textInvisible},               // other variation selectors
		{"🏴\U000E0067\U000E0062", "", textInvisible}, // tag characters
	} {
		got, p := cleanText(tc.in, 15)
		if p != tc.problem || (p == "" || p == textLength) && got != tc.want {
			t.Errorf("cleanText(%+q) = %+q, %q; want %+q, %q", tc.in, got, p, tc.want, tc.problem)
		}
	}
}

// TestTextFieldMessages: every problem of every free-text field has a
// message, in every language (the catalogue test checks the languages).
func TestTextFieldMessages(t *testing.T) {
	for _, f := range textFields {
		for _, p := range textProblems {
			if k := "form." + f.name + "." + p; !i18n.Has(k) {
				t.Errorf("no message %q", k)
			}
		}
	}
}

// TestSignupRefusesInvisibleNicks: a nickname that hides or reorders text
// is refused with a field error in the user's language, and nothing is
// stored; spacing is tidied in what is stored.
func TestSignupRefusesInvisibleNicks(t *testing.T) {
	s := newTestServer(t, "sqlite")
	for i, nick := range []string{
		"admin\u202E", "ad\u200Bmin", "\uFEFFadmin", "\u2066admin\u2069", "\u3164", "admin\u3164",
		"\u115F", "\u1160", "\uFFA0", "\u2800", "ad\u180Emin", "admin\u00AD", "admin\U000E0041",
	} {
		email := fmt.Sprintf("inv%d@example.com", i)
		r := s.client(t).signup(email, nick, "correct horse battery")
		if r.Status != http.StatusUnprocessableEntity {
			t.Errorf("nick %+q: %d, want 422", nick, r.Status)
			continue
		}
		mustContain(t, fmt.Sprintf("nick %+q", nick), r.Body, "cannot contain invisible or formatting characters",
			`id="nick-error"`, `aria-invalid="true"`)
		if _, err := s.app.users.GetByEmail(t.Context(), email); err == nil {
			t.Errorf("nick %+q: refused but stored", nick)
		}
	}
	c := s.client(t)
	r := c.do("POST", "/auth/join", strings.NewReader("email=ko%40example.com&nick=%E3%85%A4&password=correct+horse+battery&_csrf="+c.csrf()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Accept-Language": "ko"})
	mustContain(t, "Korean message", r.Body, "보이지 않는 문자")

	if r := s.client(t).signup("spaced@example.com", " Ann\u3000\u00a0Lee ", "correct horse battery"); r.Status != http.StatusSeeOther {
		t.Fatalf("spaced nick: %d", r.Status)
	}
	u, err := s.app.users.GetByEmail(t.Context(), "spaced@example.com")
	if err != nil || u.Nick != "Ann Lee" {
		t.Fatalf("stored nick %+q (%v), want %q", u.Nick, err, "Ann Lee")
	}
	if r := s.client(t).signup("emoji@example.com", "ann❤️‍🔥", "correct horse battery"); r.Status != http.StatusSeeOther {
		t.Fatalf("emoji nick: %d", r.Status)
	}
}

// TestSignupRefusesControlCharactersInEmails: an address the mail parser
// accepts with a tab in its quoted part is still refused: every text
// others see goes through cleanText.
func TestSignupRefusesControlCharactersInEmails(t *testing.T) {
	s := newTestServer(t, "sqlite")
	r := s.client(t).signup("\"a\tb\"@example.com", "tab", "correct horse battery")
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("%d, want 422", r.Status)
	}
	mustContain(t, "tab in email", r.Body, "Enter a valid email address")
}

// FuzzCleanText: no panic; accepted text is valid UTF-8, trimmed, with
// single U+0020 spaces, no control character, nothing invisible outside an
// emoji, at most the limit, and cleaning it again changes nothing.
func FuzzCleanText(f *testing.F) {
	for _, s := range []string{"ann", " a  b ", "한국어", "❤️‍🔥", "1️⃣", "\u202E", "\u3164", "a\u00a0b", "\xff", "a\x00",
		"👩🏽‍💻", "\uFE0F", "\u200D❤", strings.Repeat("가", 16)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, p := cleanText(in, 15)
		if p != "" {
			if p != textLength && out != "" {
				t.Fatalf("cleanText(%+q) = %+q, %q: a refusal returns no text", in, out, p)
			}
			return
		}
		if !utf8.ValidString(out) || out == "" || utf8.RuneCountInString(out) > 15 || strings.TrimSpace(out) != out ||
			strings.Contains(out, "  ") {
			t.Fatalf("cleanText(%+q) = %+q: not clean", in, out)
		}
		for i, r := range out {
			if unicode.IsControl(r) || unicode.IsSpace(r) && r != ' ' || invisible(r) && !emojiPart(out, i, r) {
				t.Fatalf("cleanText(%+q) = %+q: %U at %d", in, out, r, i)
			}
		}
		if again, p := cleanText(out, 15); again != out || p != "" {
			t.Fatalf("cleanText(%+q) = %+q, but cleanText of that = %+q, %q", in, out, again, p)
		}
	})
}

// TestCleanLines: a post keeps its lines, cleaned one by one by cleanText's
// rules; the length counts code points, line breaks included.
func TestCleanLines(t *testing.T) {
	for _, tc := range []struct {
		in, want, problem string
	}{
		{"  hello \u3000 world  ", "hello world", ""},
		{"one\r\ntwo\rthree\nfour", "one\ntwo\nthree\nfour", ""},
		{"\n\n top \n\n\n\n bottom \n\n", "top\n\nbottom", ""},
		{"a\n \u00a0 \nb", "a\n\nb", ""},
		{" \r\n\t\n ", "", textRequired},
		{"ok\nbad\u202Eline", "", textInvisible},
		{"ok\nnul\x00", "", textInvalid},
		{"\xff", "", textInvalid},
		{"❤️ #노드", "❤️ #노드", ""},
		{strings.Repeat("가", 140), strings.Repeat("가", 140), ""},
		{strings.Repeat("가", 141), strings.Repeat("가", 141), textLength},
		{strings.Repeat("가", 70) + "\n" + strings.Repeat("가", 70), strings.Repeat("가", 70) + "\n" + strings.Repeat("가", 70), textLength},
		{strings.Repeat("😀", 140), strings.Repeat("😀", 140), ""}, // 140 code points, 280 UTF-16 units
	} {
		got, p := contentField.clean(tc.in)
		want := ""
		if tc.problem != "" {
			want = "form.content." + tc.problem
		}
		if p != want || (p == "" || tc.problem == textLength) && got != tc.want {
			t.Errorf("clean(%+q) = %+q, %q; want %+q, %q", tc.in, got, p, tc.want, want)
		}
	}
}

// THost escapes the catalogue's text and the host, and wraps the host.
func TestTHostEscapesAndWrapsTheHost(t *testing.T) {
	p := &Page{Lang: "en"}
	got := string(p.THost("admin.confirm.revoke", `a<b>&"c`))
	want := `Revoke <span class="host">a&lt;b&gt;&amp;&#34;c</span>? Its secret gets 401 at /v1/token until it is restored.`
	if got != want {
		t.Fatalf("THost:\n got %s\nwant %s", got, want)
	}
	if got := string((&Page{Lang: "ko"}).THost("admin.confirm.revoke", "shop.example.com")); !strings.Contains(got, `<span class="host">shop.example.com</span>`) {
		t.Fatalf("Korean THost: %s", got)
	}
}
