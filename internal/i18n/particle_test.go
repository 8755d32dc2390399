package i18n

import (
	"strings"
	"testing"
)

func TestParticle(t *testing.T) {
	for _, tc := range []struct{ word, marker, want string }{
		// Hangul, with and without 받침, and ㄹ for (으)로.
		{"도메인", "을(를)", "을"}, {"비밀 키", "을(를)", "를"},
		{"앨리스", "이(가)", "가"}, {"민준", "이(가)", "이"},
		{"무료", "(으)로", "로"}, {"프리미엄", "(으)로", "으로"}, {"서울", "(으)로", "로"},
		{"사과", "과(와)", "와"}, {"책", "은(는)", "은"},
		// Latin hosts, as a Korean reader says them: 닷컴, 케이알, 에이치, 넷, 앱.
		{"example.com", "을(를)", "을"}, {"shop.example.co.kr", "을(를)", "을"}, {"shop.example.co.kr", "(으)로", "로"},
		{"localhost", "을(를)", "를"}, {"my.site", "이(가)", "가"}, {"example.io", "을(를)", "를"},
		{"example.org", "을(를)", "를"}, {"example.net", "을(를)", "을"}, {"todo.app", "이(가)", "이"},
		{"mail", "(으)로", "로"}, {"SHOP.EXAMPLE.COM", "을(를)", "을"},
		{"magnet.io", "을(를)", "를"}, {"planet", "을(를)", "를"}, // a known word only when it stands alone: p-l-a-n-e-t ends 티
		// Ports and numbers: 사천, 팔천팔십, 삼천일, 구.
		{"localhost:4000", "을(를)", "을"}, {"localhost:8080", "(으)로", "으로"}, {"localhost:3001", "(으)로", "로"},
		{"localhost:3009", "을(를)", "를"},
		// Closing quotes and brackets are skipped.
		{"“shop”", "(으)로", "으로"}, {"“블로그”", "(으)로", "로"}, {"(example.com)", "이(가)", "이"},
		{"kim@example.com", "을(를)", "을"},
	} {
		if got := Particle(tc.word, tc.marker); got != tc.want {
			t.Errorf("Particle(%q, %q) = %q, want %q", tc.word, tc.marker, got, tc.want)
		}
	}
}

// TestNoParticleMarkerReachesAPage: every Korean message, formatted with a
// word with and without 받침, picks its particles; no "을(를)" is left.
func TestNoParticleMarkerReachesAPage(t *testing.T) {
	if got := T("ko", "confirm.delete", "example.com"); !strings.HasPrefix(got, "example.com을 삭제할까요?") {
		t.Errorf("confirm.delete: %q", got)
	}
	if got := T("ko", "confirm.delete", "blog.example.io"); !strings.HasPrefix(got, "blog.example.io를 삭제할까요?") {
		t.Errorf("confirm.delete: %q", got)
	}
	if got := T("ko", "mail.plan.body", "shop.example.com", "프리미엄"); got != "관리자가 shop.example.com의 요금제를 프리미엄으로 바꿨습니다." {
		t.Errorf("mail.plan.body: %q", got)
	}
	if got := T("ko", "dash.search.none", "blog"); got != "“blog”로 시작하는 도메인이 없습니다." {
		t.Errorf("dash.search.none: %q", got)
	}
	for _, k := range Keys("ko") {
		n := strings.Count(catalogue["ko"][k], "%")
		for _, word := range []string{"example.com", "블로그", "3"} {
			args := make([]any, n)
			for i := range args {
				args[i] = word
			}
			out := T("ko", k, args...)
			for _, m := range particleMarkers {
				if strings.Contains(out, m.marker) {
					t.Errorf("%s with %q: %q still has %q", k, word, out, m.marker)
				}
			}
		}
	}
}
