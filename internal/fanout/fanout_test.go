package fanout

import (
	"slices"
	"testing"
)

// A message names domains by id and nothing else: anything but a short
// list of ids makes the instance read what changed instead.
func TestParseIDs(t *testing.T) {
	for _, tc := range []struct {
		payload string
		ids     []uint64
		ok      bool
	}{
		{"42", []uint64{42}, true},
		{"1,2,3", []uint64{1, 2, 3}, true},
		{"1,2,3,4,5,6,7,8,9,10", []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, true},
		{"1,2,3,4,5,6,7,8,9,10,11", nil, false}, // too many to read one by one
		{refreshAll, nil, false},
		{"", nil, false},
		{"0", nil, false},
		{"-1", nil, false},
		{"42,revoked", nil, false},
		{`{"id":42,"status":"active"}`, nil, false},
	} {
		ids, ok := parseIDs(tc.payload)
		if ok != tc.ok || !slices.Equal(ids, tc.ids) {
			t.Errorf("parseIDs(%q) = %v, %v; want %v, %v", tc.payload, ids, ok, tc.ids, tc.ok)
		}
	}
}
