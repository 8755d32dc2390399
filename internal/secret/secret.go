// Package secret generates and checks domain client secrets.
//
// A secret looks like "nbk_" + 32 base32 characters (160 random bits) + 7
// base32 characters of CRC-32 over the rest, so a mistyped or truncated
// secret is rejected without a database lookup. Only its SHA-256 is stored.
package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
)

// Prefix marks NodeBird client secrets so they are recognisable in code
// and by secret scanners.
const Prefix = "nbk_"

const (
	bodyLen = 32 // base32 of 20 random bytes
	sumLen  = 7  // base32 of 4 checksum bytes
	// Len is the length of every well-formed secret.
	Len = len(Prefix) + bodyLen + sumLen
)

var enc = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// New returns a fresh secret with 160 bits from crypto/rand.
func New() string {
	var raw [20]byte
	if _, err := rand.Read(raw[:]); err != nil {
		panic("crypto/rand failed: " + err.Error()) // never happens on supported platforms
	}
	s := Prefix + enc.EncodeToString(raw[:])
	return s + checksum(s)
}

func checksum(s string) string {
	var sum [sumLen]byte
	putChecksum(&sum, s)
	return string(sum[:])
}

// putChecksum writes the base32 of s's CRC-32 into sum.
func putChecksum(sum *[sumLen]byte, s string) {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], crc32.ChecksumIEEE([]byte(s)))
	enc.Encode(sum[:], b[:])
}

// WellFormed reports whether s has the shape and checksum of a secret.
func WellFormed(s string) bool {
	if len(s) != Len || s[:len(Prefix)] != Prefix {
		return false
	}
	for i := len(Prefix); i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	var sum [sumLen]byte
	putChecksum(&sum, s[:Len-sumLen])
	return string(sum[:]) == s[Len-sumLen:]
}

// Hash is what is stored for a secret: hex SHA-256. The secret carries 160
// random bits, so a plain hash cannot be reversed by guessing.
func Hash(s string) string {
	h := Sum(s)
	return hex.EncodeToString(h[:])
}

// Sum is the SHA-256 that Hash writes in hex.
func Sum(s string) [sha256.Size]byte { return sha256.Sum256([]byte(s)) }

// Last4 is the part of a secret shown on the dashboard after creation.
func Last4(s string) string {
	if len(s) < 4 {
		return s
	}
	return s[len(s)-4:]
}
