package embedded

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/kusanagi-dev/kusanagi/logs"
)

// FuzzDocument checks the hand-written JSON against encoding/json: any
// field name and value must come back unchanged (invalid UTF-8 aside).
func FuzzDocument(f *testing.F) {
	f.Add("Interface Gi0/1, changed state to down", "event.code", "LINK-3-UPDOWN")
	f.Add("quote \" backslash \\ tab \t nl \n nul \x00", "k\"ey", "\x7f\u2028")
	f.Fuzz(func(t *testing.T, msg, k, v string) {
		r := logs.Record{Timestamp: time.Unix(1, 0), HostName: msg, HostIP: "::1", Fields: map[string]string{k: v}}
		b, _ := document(nil, &r, nil)
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("invalid JSON %q: %v", b, err)
		}
		// encoding/json's round trip is the reference: it replaces
		// invalid UTF-8 as the hand-written encoder does.
		roundTrip := func(s string) string {
			j, _ := json.Marshal(s)
			var out string
			json.Unmarshal(j, &out)
			return out
		}
		if msg != "" && m["host.name"] != roundTrip(msg) {
			t.Fatalf("host.name %q, want %q", m["host.name"], roundTrip(msg))
		}
		switch k {
		case "message", "event.original", "host.ip", "host.name", "event.code":
		default:
			if m[roundTrip(k)] != roundTrip(v) {
				t.Fatalf("field %q = %q, want %q (document %s)", k, m[roundTrip(k)], roundTrip(v), b)
			}
		}
	})
}
