package embedded

import (
	"context"
	"testing"
	"time"

	"github.com/kusanagi-dev/kusanagi/logs"
	"github.com/kusanagi-dev/kusanagi/logs/query"
)

// event.original is matched on the rows, not through the FTS index; it
// must answer as a text field does: words, phrases, any case, prefixes.
func TestOriginalIsTextWithoutIndex(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	recs := []logs.Record{
		{Timestamp: base, Message: "Interface Gi0/1, changed state to down",
			Original: "<187>52: *Nov 25 10:00:00.000: %LINK-3-UPDOWN: Interface Gi0/1, changed state to down"},
		{Timestamp: base.Add(time.Second), Message: "linkDown",
			Original: "IF-MIB::linkDown from 10.1.1.2 ifIndex=529"},
		{Timestamp: base.Add(2 * time.Second), Message: "no original"},
	}
	if err := s.Write(ctx, recs); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]int64{
		`event.original:updown`:                              1,
		`event.original:"LINK-3-UPDOWN: Interface"`:          1, // across the header and the message
		`event.original:"state to down"`:                     1,
		`event.original:"down to state"`:                     0,
		`event.original:linkdown`:                            1,
		`event.original:link*`:                               2,
		`event.original:ifindex`:                             1, // "=" separates words
		`event.original:"ifIndex 529"`:                       1,
		`NOT event.original:down`:                            2,
		`event.original:Gi0`:                                 1,
		`message:down AND event.original:"changed state to"`: 1,
	} {
		n, err := query.Parse(q)
		if err != nil {
			t.Fatal(err)
		}
		counts, err := s.Count(ctx, n, nil, base, base.Add(time.Minute))
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		var got int64
		for _, gc := range counts {
			got += gc.Count
		}
		if got != want {
			t.Errorf("%s: %d records, want %d", q, got, want)
		}
	}
}

func TestContainsWords(t *testing.T) {
	for _, c := range []struct {
		value, phrase string
		want          bool
	}{
		{"Interface Gi0/1, changed state to down", "CHANGED state", true},
		{"Interface Gi0/1, changed state to down", "gi0 1", true},
		{"Interface Gi0/1, changed state to down", "state changed", false},
		{"SNMP_TRAP_LINK_DOWN: ifIndex 529", "snmp_trap_link_down", true},
		{"SNMP_TRAP_LINK_DOWN: ifIndex 529", "link", false},
		{"anything", "", false},
		{"", "word", false},
	} {
		if got := containsWords(c.value, c.phrase); got != c.want {
			t.Errorf("containsWords(%q, %q) = %v, want %v", c.value, c.phrase, got, c.want)
		}
	}
}
