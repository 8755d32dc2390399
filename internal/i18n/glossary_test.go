package i18n

import (
	"regexp"
	"sort"
	"strings"
	"testing"
)

// glossary: one Korean term per concept. Every catalogue entry whose
// English uses a concept uses its chosen Korean term, and none uses a
// rejected alternative. Revoke is 사용 중지 (사용 중지됨, 사용을 중지했습니다):
// 취소 is the Cancel button next to it on every confirmation.
var glossary = []struct {
	concept  string
	en       *regexp.Regexp
	ko       *regexp.Regexp   // the chosen term, in any of its forms
	rejected []*regexp.Regexp // alternatives that must not appear anywhere for this concept
	except   map[string]string
}{
	{"revoke", regexp.MustCompile(`(?i)\brevo(ke|kes|ked|king|cation)\b`), regexp.MustCompile(`사용(을|이|이 모두)? ?중지`),
		res(`취소`, `차단`, `폐기`, `철회`, `해지`, `무효화`),
		map[string]string{"admin.err.filter.status": "names the filter's literal values (revoked)",
			"admin.role.config": "a role, not a domain: the concept below"}},
	// Taking a role back is another concept: 회수 (what 관리자 역할 회수 says).
	{"remove a role", regexp.MustCompile(`(?i)\brole\b[^.]*\b(revok|remov)|\b(revok|remov)\w*\b[^.]*\brole\b`), regexp.MustCompile(`회수`),
		res(`사용 ?중지`, `취소`, `박탈`, `해제`), nil},
	{"secret", regexp.MustCompile(`(?i)\bsecrets?\b`), regexp.MustCompile(`비밀 키`),
		res(`시크릿`, `비밀키`, `비밀 열쇠`, `암호 키`),
		map[string]string{"api.secret.unknown": "the seed's Korean wording, kept for its clients"}},
	{"password", regexp.MustCompile(`(?i)\bpasswords?\b`), regexp.MustCompile(`비밀번호`),
		res(`패스워드`, `암호(?:화)?[^화]`), nil},
	{"domain", regexp.MustCompile(`(?i)\bdomains?\b`), regexp.MustCompile(`도메인`), nil,
		map[string]string{"dash.count.one": "a counter word after a number (도메인 3개)", "dash.count.other": "idem"}},
	// The word, not the path /v1/token or a limit's name (token-free).
	{"token", regexp.MustCompile(`(?i)(?:^|[^/\w-])tokens?(?:[^\w-]|$)`), regexp.MustCompile(`토큰`), nil,
		map[string]string{"col.lastok": "a column next to 발급한 토큰: 마지막 발급 (of a token)", "admin.sort.last_used": "idem, the same column as a sort"}},
	{"plan", regexp.MustCompile(`(?i)\bplans?\b`), regexp.MustCompile(`요금제`), res(`플랜`, `계획`, `요금 ?정책`), nil},
	{"host", regexp.MustCompile(`(?i)\bhosts?\b`), regexp.MustCompile(`호스트`), nil, nil},
	{"email", regexp.MustCompile(`(?i)\be-?mails?\b`), regexp.MustCompile(`이메일`), res(`전자 ?우편`, `e-?메일`), nil},
	{"nickname", regexp.MustCompile(`(?i)\bnicknames?\b`), regexp.MustCompile(`닉네임`), res(`별명`, `별칭`), nil},
	{"label", regexp.MustCompile(`(?i)\blabels?\b`), regexp.MustCompile(`라벨`), res(`레이블`), nil},
	{"rotate", regexp.MustCompile(`(?i)\brotat(e|es|ed|ing|ion)\b`), regexp.MustCompile(`교체`), res(`회전`, `로테이션`, `순환`), nil},
	{"restore", regexp.MustCompile(`(?i)\brestor(e|es|ed|ing)\b`), regexp.MustCompile(`복구`), res(`복원`), nil},
	{"delete", regexp.MustCompile(`(?i)\bdelet(e|es|ed|ing|ion)\b`), regexp.MustCompile(`삭제`), res(`제거`),
		map[string]string{"admin.err.filter.status": "names the filter's literal values (deleted)"}},
	{"admin", regexp.MustCompile(`(?i)\badmin(istrator)?s?\b`), regexp.MustCompile(`관리자`), res(`어드민`, `운영진`), nil},
	{"account", regexp.MustCompile(`(?i)\baccounts?\b`), regexp.MustCompile(`계정`), res(`어카운트`), nil},
	{"expire", regexp.MustCompile(`(?i)\bexpir(e|es|ed|y|ation)\b`), regexp.MustCompile(`만료`), nil, nil},
	{"free plan", regexp.MustCompile(`(?i)\bfree plan\b`), regexp.MustCompile(`무료`), nil, nil},
	{"premium", regexp.MustCompile(`(?i)\bpremium\b`), regexp.MustCompile(`프리미엄|premium`), nil, nil},
}

func res(ss ...string) []*regexp.Regexp {
	out := make([]*regexp.Regexp, len(ss))
	for i, s := range ss {
		out[i] = regexp.MustCompile(s)
	}
	return out
}

func TestGlossary(t *testing.T) {
	keys := Keys("en")
	sort.Strings(keys)
	for _, g := range glossary {
		n := 0
		for _, k := range keys {
			en, ko := catalogue["en"][k], catalogue["ko"][k]
			if !g.en.MatchString(en) {
				continue
			}
			n++
			if why, ok := g.except[k]; ok {
				t.Logf("%s: %s excepted: %s", g.concept, k, why)
				continue
			}
			if !g.ko.MatchString(ko) {
				t.Errorf("%s: %s says %q in English but %q in Korean, without %s", g.concept, k, en, ko, g.ko)
			}
			for _, r := range g.rejected {
				if m := r.FindString(ko); m != "" {
					t.Errorf("%s: %s uses %q (rejected) in %q", g.concept, k, strings.TrimSpace(m), ko)
				}
			}
		}
		if n == 0 {
			t.Errorf("%s: no English entry matches %s: is the pattern still right?", g.concept, g.en)
		}
	}
}
