package i18n

// Messages of the free-text rules (handlers/text.go).
func init() {
	register(map[string]map[string]string{
		"en": {
			"form.nick.invisible": "A nickname cannot contain invisible or formatting characters, such as zero-width spaces, direction marks or blank fillers (U+3164, U+2800).",
		},
		"ko": {
			"form.nick.invisible": "닉네임에 보이지 않는 문자나 서식 문자(폭 없는 공백, 방향 표시, U+3164·U+2800 같은 빈 채움 문자)를 쓸 수 없습니다.",
		},
	})
}
