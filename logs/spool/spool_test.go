package elasticsearch

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzDecodeSegment: a corrupt spool never panics, and what decodes is a
// prefix of what was written.
func FuzzDecodeSegment(f *testing.F) {
	var good []byte
	good = append(good, spoolMagic...)
	for _, e := range []entry{{"a", []byte(`{"message":"x"}`)}, {"bb", []byte(`{}`)}, {"", nil}} {
		good = appendFrame(good, e)
	}
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add([]byte(spoolMagic + "\xff\xff\xff\xff\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, rest := decodeSegment(b)
		if rest < 0 || rest > len(b) {
			t.Fatalf("rest %d of %d bytes", rest, len(b))
		}
		// Re-encoding what decoded gives back the bytes it came from.
		if len(entries) > 0 {
			var again []byte
			again = append(again, spoolMagic...)
			for _, e := range entries {
				again = appendFrame(again, e)
			}
			if !bytes.Equal(again, b[:len(b)-rest]) {
				t.Fatalf("decoded entries do not re-encode to their bytes")
			}
		}
	})
}

// TestSpoolSegments: appends rotate segments at the size bound, survive a
// reopen, and a removed segment's bytes and records leave the totals.
func TestSpoolSegments(t *testing.T) {
	dir := t.TempDir()
	sp, err := openSpool(dir, 1<<20, 256, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	doc := bytes.Repeat([]byte("x"), 100)
	for range 6 {
		if err := sp.append([]entry{{id: "id", doc: doc}}); err != nil {
			t.Fatal(err)
		}
	}
	if len(sp.segs) != 3 {
		t.Fatalf("%d segments, want 3 of two frames each", len(sp.segs))
	}
	sp.close()
	sp, err = openSpool(dir, 1<<20, 256, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, n := sp.size(); n != 6 {
		t.Fatalf("%d records after reopening, want 6", n)
	}
	first, err := sp.oldest()
	if err != nil || first == nil {
		t.Fatal(first, err)
	}
	entries, skipped, err := readSegment(first.path)
	if err != nil || skipped != 0 || len(entries) != 2 || !bytes.Equal(entries[0].doc, doc) || entries[0].id != "id" {
		t.Fatalf("read %d entries, skipped %d, err %v", len(entries), skipped, err)
	}
	if err := sp.remove(first); err != nil {
		t.Fatal(err)
	}
	if _, n := sp.size(); n != 4 {
		t.Fatalf("%d records after removing a segment, want 4", n)
	}
	if _, err := os.Stat(first.path); !os.IsNotExist(err) {
		t.Fatalf("removed segment still there: %v", err)
	}
	// New appends go to a new segment, never to one of an earlier process.
	if err := sp.append([]entry{{id: "new", doc: doc}}); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) != 3 || sp.segs[len(sp.segs)-1].seq != 4 {
		t.Fatalf("segments %v", segs)
	}
	sp.close()
}

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
