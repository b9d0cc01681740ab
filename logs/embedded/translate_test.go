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

// FuzzTextOnRowsAsIndexed checks that a phrase matched on the rows (when
// an event.code narrows the window) and through the FTS index give the
// same answer, whatever the words, case, punctuation and combining marks,
// in the scripts of fuzzAlphabet. (SQLite's tokenizer knows Unicode 6.1,
// Go's tables a later version: code points assigned since may be split
// differently.)
func FuzzTextOnRowsAsIndexed(f *testing.F) {
	f.Add("Interface Gi0/1, changed state to down", "changed STATE")
	f.Add("Échec de connexion: café_crème ok", "échec DE")
	f.Add("SNMP_TRAP_LINK_DOWN: ifIndex=529 ΑΒΓ déjà-vu", "αβγ déjà")
	f.Add("x\u0301y \U000F0000z 1½ ٣", "x")
	f.Add("a b a b c", "a b c")
	s, err := Open(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	ts := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, message, phrase string) {
		message, phrase = inAlphabet(message), inAlphabet(phrase)
		ctx := context.Background()
		ts = ts.Add(time.Millisecond)
		r := logs.Record{Timestamp: ts, Message: message, Fields: map[string]string{"event.code": "X"}}
		if err := s.Write(ctx, []logs.Record{r}); err != nil {
			t.Fatal(err)
		}
		count := func(q query.Node) int64 {
			counts, err := s.Count(ctx, q, nil, ts, ts.Add(time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			var n int64
			for _, gc := range counts {
				n += gc.Count
			}
			return n
		}
		p := query.Phrase{Field: "message", Text: phrase}
		indexed := count(p)
		onRows := count(query.And{Nodes: []query.Node{query.Term{Field: "event.code", Value: "X"}, p}})
		if indexed != onRows {
			t.Fatalf("message %q, phrase %q: the FTS index says %d, the row says %d", message, phrase, indexed, onRows)
		}
	})
}

var fuzzAlphabet = []rune("abcXYZ019 _-.:/=,\t" + "éÉàÀßçøØæœŒ" + "ΑαΣσςΓγ" + "ДдЖж" + "你好٣½" + "\u0301\u0308\u0903" + "\U000F0000")

// inAlphabet maps the runes of s onto fuzzAlphabet.
func inAlphabet(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		out = append(out, fuzzAlphabet[int(r)%len(fuzzAlphabet)])
	}
	return string(out)
}
