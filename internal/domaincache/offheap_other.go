//go:build !unix

package domaincache

// canMap: no anonymous mmap here; the Go heap serves.
const canMap = false

// mapAnon fails: nothing is mapped.
func mapAnon(int) []byte { return nil }

func unmap([]byte) { panic("domaincache: nothing is mapped") }
