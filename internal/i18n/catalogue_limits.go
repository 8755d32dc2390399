package i18n

func init() {
	register(map[string]map[string]string{
		"en": {
			"form.login.throttled": "Too many failed attempts. Wait a few minutes before you try again.",
		},
		"ko": {
			"form.login.throttled": "실패한 시도가 너무 많습니다. 몇 분 뒤에 다시 시도하세요.",
		},
	})
}
