package traps

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kusanagi-dev/kusanagi/rules"
)

// fuzzValues are the values the fuzzed matchers and traps draw from, so
// that they meet often.
var fuzzValues = []string{"1", "2", "3", "8", "", "critical", "PEM 0"}

var fuzzOps = []string{"equals", "not_equals", "regex", "not_regex"}

// fuzzOIDs are a notification in both spellings and another.
var fuzzOIDs = []string{"1.3.6.1.4.1.2636.4.1.1", "1.3.6.1.4.1.2636.4.1.0.1", "1.3.6.1.4.1.9.9.13.3.0.8"}

const fuzzVarbind = "1.3.6.1.4.1.9.9.13.1.4.1.3"

// fuzzMatchers writes up to two matchers on fuzzVarbind from b.
func fuzzMatchers(b []byte) string {
	var ms []string
	for i := 0; i+1 < len(b) && i < 4; i += 2 {
		op := fuzzOps[int(b[i])%len(fuzzOps)]
		v := fuzzValues[int(b[i+1])%len(fuzzValues)]
		if strings.Contains(op, "regex") && v != "" {
			v = v[:1] + ".*"
		}
		ms = append(ms, fmt.Sprintf("{varbind: %s, %s: '%s'}", fuzzVarbind, op, v))
	}
	return "[" + strings.Join(ms, ", ") + "]"
}

// FuzzClassify builds a catalogue entry from the input (raise and clear
// OIDs from fuzzOIDs, matchers on one varbind) and a trap: whatever the
// catalogue validator lets through, classify never says a trap both
// raises and clears, and a trap whose OID is neither is neither.
func FuzzClassify(f *testing.F) {
	f.Add([]byte{0, 0, 1, 0, 0, 0, 0, 0, 2})
	f.Add([]byte{2, 1, 1, 0, 0, 2, 0, 0, 3, 1})
	f.Add([]byte{0, 0, 3, 1, 0, 1, 0, 6})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 4 {
			return
		}
		raiseOID, clearOID := fuzzOIDs[int(b[0])%len(fuzzOIDs)], fuzzOIDs[int(b[1])%len(fuzzOIDs)]
		trapOID, value := fuzzOIDs[int(b[2])%len(fuzzOIDs)], fuzzValues[int(b[3])%len(fuzzValues)]
		rest := b[4:]
		half := len(rest) / 2
		src := fmt.Sprintf("alerts:\n  - name: A\n    severity: major\n    summary: s\n    traps:\n      - oid: %s\n        match: %s\n        clear: {oid: %s, match: %s}\n",
			raiseOID, fuzzMatchers(rest[:half]), clearOID, fuzzMatchers(rest[half:]))
		c, errs := rules.Parse(rules.File{Name: "fuzz.yml", Src: []byte(src)})
		if len(errs) > 0 {
			return // refused with its position: nothing to classify
		}
		ix, cerrs := compile(c, NewNames())
		if len(cerrs) > 0 {
			t.Fatalf("%s: %v", src, cerrs)
		}
		tr := &Trap{OID: trapOID}
		if value != "" {
			tr.Varbinds = []Varbind{{OID: fuzzVarbind + ".2", Value: value}}
		}
		for _, s := range append(ix.byOID[trapOID], ix.byClear[trapOID]...) {
			raise, clear := s.classify(tr)
			if raise && clear {
				t.Fatalf("trap %s %q both raises and clears:\n%s", trapOID, value, src)
			}
		}
		indexed := len(ix.byOID[trapOID]) + len(ix.byClear[trapOID])
		if indexed > 0 && !rules.SameTrapOID(trapOID, raiseOID) && !rules.SameTrapOID(trapOID, clearOID) {
			t.Fatalf("trap %s indexed under a source of %s / %s", trapOID, raiseOID, clearOID)
		}
	})
}
