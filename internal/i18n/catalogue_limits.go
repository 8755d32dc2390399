package i18n

func init() {
	register(map[string]map[string]string{
		"en": {
			"form.login.throttled": "Too many failed attempts. Wait a few minutes before you try again.",
			"form.login.slowed":    "This account is getting many failed logins, so it takes one attempt every few seconds. Wait a moment and try again.",
			"form.email.ascii":     "Use an email address written in plain ASCII letters.",
			"err.409":              "This action conflicts with the current state. Reload the page and try again.",
			"form.email.admin":     "This address is reserved for an administrator and cannot sign up here. If it is yours, sign up before it is listed in ADMIN_EMAILS, or ask the operator.",
		},
		"ko": {
			"form.login.throttled": "실패한 시도가 너무 많습니다. 몇 분 뒤에 다시 시도하세요.",
			"form.login.slowed":    "이 계정에 실패한 로그인이 많아 몇 초에 한 번만 시도할 수 있습니다. 잠시 뒤에 다시 시도하세요.",
			"form.email.ascii":     "ASCII 문자로 된 이메일 주소를 입력하세요.",
			"err.409":              "현재 상태와 맞지 않는 작업입니다. 페이지를 새로 고친 뒤 다시 시도하세요.",
			"form.email.admin":     "관리자용으로 예약된 주소라 여기서 가입할 수 없습니다. 본인의 주소라면 ADMIN_EMAILS에 넣기 전에 가입하거나 운영자에게 문의하세요.",
		},
	})
}
