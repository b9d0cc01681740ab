package elasticsearch

import (
	"reflect"
	"testing"
)

// FuzzRecord: whatever _source a server answers, decoding it never
// panics, and a decoded record is indexed as a document that decodes to
// the same record.
func FuzzRecord(f *testing.F) {
	f.Add([]byte(`{"@timestamp":"2026-11-25T10:00:00Z","message":"x","host.ip":"::1","event.code":"A"}`))
	f.Add([]byte(`{"host":{"ip":["10.0.0.1","10.0.0.2"]},"n":3.5,"b":true,"z":null}`))
	f.Add([]byte(`{"kusanagi.record":{"message":"y","snmp.trap":"a"},"error.type":"t","tags":["kusanagi.index_error"]}`))
	f.Fuzz(func(t *testing.T, src []byte) {
		r, err := record(src)
		if err != nil || r.Timestamp.Year() > 9999 {
			return
		}
		doc, err := document(&r)
		if err != nil {
			t.Fatal(err)
		}
		again, err := record(doc)
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		if !reflect.DeepEqual(again, r) {
			t.Fatalf("round trip of %s:\n got %+v\nwant %+v", doc, again, r)
		}
	})
}
