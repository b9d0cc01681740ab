package syslog

import (
	"maps"
	"strconv"
	"testing"
)

// FuzzParsedFieldsActLikeAMap: setting fields in any order, names again
// included, below and beyond the length from which they are indexed,
// leaves what a map would hold.
func FuzzParsedFieldsActLikeAMap(f *testing.F) {
	f.Add([]byte{1, 2, 1, 3})
	f.Add([]byte("abcdefghijklmnopqrstuvwxyzabc"))
	f.Fuzz(func(t *testing.T, names []byte) {
		var ps parsed
		for round := range 2 { // the second round reuses what reset kept
			ps.reset(ps.rec)
			want := map[string]string{}
			for i, n := range names {
				name, value := "f"+strconv.Itoa(int(n)%40), strconv.Itoa(i)
				ps.set(name, value)
				want[name] = value
				if got, ok := ps.get(name); !ok || got != value {
					t.Fatalf("round %d: after set(%s, %s), get gives %q, %v", round, name, value, got, ok)
				}
			}
			if got := ps.record().Fields; len(ps.fields) != len(want) || !maps.Equal(got, want) {
				t.Fatalf("round %d: %d fields %v, want %v", round, len(ps.fields), got, want)
			}
			if _, ok := ps.get("absent"); ok {
				t.Fatal("a name never set is found")
			}
		}
	})
}
