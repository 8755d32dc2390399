//go:build unix

package domaincache

import "syscall"

// canMap: anonymous mmap is available here.
const canMap = true

// mapAnon maps n zeroed bytes outside the Go heap; nil if that fails.
func mapAnon(n int) []byte {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil
	}
	return b
}

// unmap releases what mapAnon returned.
func unmap(b []byte) {
	if err := syscall.Munmap(b); err != nil {
		panic("domaincache: munmap: " + err.Error())
	}
}
