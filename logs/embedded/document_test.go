package embedded

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/kusanagi-dev/kusanagi/logs"
)

// FuzzDocument checks the hand-written JSON against encoding/json: any
// field values must come back unchanged (invalid UTF-8 aside).
func FuzzDocument(f *testing.F) {
	f.Add("Interface Gi0/1, changed state to down", "event.code", "LINK-3-UPDOWN")
	f.Add("quote \" backslash \\ tab \t nl \n nul \x00", "k\"ey", "\x7f\u2028")
	f.Fuzz(func(t *testing.T, msg, k, v string) {
		r := logs.Record{Timestamp: time.Unix(1, 0), Message: msg, HostIP: "::1", Fields: map[string]string{k: v}}
		b, err := document(&r)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("invalid JSON %q: %v", b, err)
		}
		want, _ := json.Marshal(msg)
		var wantMsg string
		json.Unmarshal(want, &wantMsg)
		if m["message"] != wantMsg {
			t.Fatalf("message %q, want %q", m["message"], wantMsg)
		}
	})
}
