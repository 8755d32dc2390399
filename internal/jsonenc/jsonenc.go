// Package jsonenc appends JSON values to a byte slice exactly as
// encoding/json writes them (HTML characters escaped), for the few hot
// responses and token payloads that are worth writing without reflection.
// Anything out of the ordinary is handed to encoding/json itself, so the
// output never differs from json.Marshal's.
package jsonenc

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// asIs marks the ASCII bytes encoding/json writes unchanged.
var asIs = func() (t [utf8.RuneSelf]bool) {
	for b := range t {
		t[b] = b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
	}
	return t
}()

// String appends s as a JSON string.
func String(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if !asIs[b] {
				return marshal(dst, s) // needs escaping
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			return marshal(dst, s) // replaced or escaped by encoding/json
		}
		i += size
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// Plain reports whether s is printable ASCII without quotes or
// backslashes: a string that JSON writes between quotes as is, and that
// any JSON reader reads back as the same bytes.
func Plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// Int appends n as a JSON number.
func Int(dst []byte, n int64) []byte { return strconv.AppendInt(dst, n, 10) }

// Uint appends n as a JSON number.
func Uint(dst []byte, n uint64) []byte { return strconv.AppendUint(dst, n, 10) }

func marshal(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(dst, b...)
}
