package i18n

// The one-time reveal of a secret (Post/Redirect/Get), the login's return
// path and the account page.
func init() {
	register(map[string]map[string]string{
		"en": {
			"secret.gone": "The secret of %s was shown once and is not shown again: if you did not copy it, rotate it to get a new one.",
		},
		"ko": {
			"secret.gone": "%s의 비밀 키는 한 번만 보여 주며 다시 보여 주지 않습니다. 복사하지 못했다면 키를 교체해 새 키를 받으세요.",
		},
	})
}
