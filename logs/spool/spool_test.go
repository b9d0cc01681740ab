package spool

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecodeSegment: a corrupt spool never panics, and what decodes is a
// prefix of what was written.
func FuzzDecodeSegment(f *testing.F) {
	var good []byte
	good = append(good, spoolMagic...)
	for _, e := range []Entry{{"a", []byte(`{"message":"x"}`)}, {"bb", []byte(`{}`)}, {"", nil}} {
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
	sp, err := Open(Options{Dir: dir, MaxBytes: 1 << 20, SegmentBytes: 256, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	doc := bytes.Repeat([]byte("x"), 100)
	for range 6 {
		if err := sp.Append([]Entry{{ID: "id", Data: doc}}); err != nil {
			t.Fatal(err)
		}
	}
	if len(sp.segs) != 3 {
		t.Fatalf("%d segments, want 3 of two frames each", len(sp.segs))
	}
	sp.Close()
	sp, err = Open(Options{Dir: dir, MaxBytes: 1 << 20, SegmentBytes: 256, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if _, n := sp.Size(); n != 6 {
		t.Fatalf("%d records after reopening, want 6", n)
	}
	first, err := sp.Oldest()
	if err != nil || first == nil {
		t.Fatal(first, err)
	}
	entries, skipped, err := ReadSegment(first.Path())
	if err != nil || skipped != 0 || len(entries) != 2 || !bytes.Equal(entries[0].Data, doc) || entries[0].ID != "id" {
		t.Fatalf("read %d entries, skipped %d, err %v", len(entries), skipped, err)
	}
	if err := sp.Remove(first); err != nil {
		t.Fatal(err)
	}
	if _, n := sp.Size(); n != 4 {
		t.Fatalf("%d records after removing a segment, want 4", n)
	}
	if _, err := os.Stat(first.Path()); !os.IsNotExist(err) {
		t.Fatalf("removed segment still there: %v", err)
	}
	// New appends go to a new segment, never to one of an earlier process.
	if err := sp.Append([]Entry{{ID: "new", Data: doc}}); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) != 3 || sp.segs[len(sp.segs)-1].seq != 4 {
		t.Fatalf("segments %v", segs)
	}
	sp.Close()
}

// TestOldestWithAndFull: a reader asking for a batch does not seal a
// segment holding fewer records, and Append refuses what does not fit
// under MaxBytes, all or nothing, until a segment is removed.
func TestOldestWithAndFull(t *testing.T) {
	sp, err := Open(Options{Dir: t.TempDir(), MaxBytes: 1024, SegmentBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	e := Entry{Data: bytes.Repeat([]byte("y"), 100)}
	if err := sp.Append([]Entry{e, e}); err != nil {
		t.Fatal(err)
	}
	if sg, err := sp.OldestWith(3); sg != nil || err != nil {
		t.Fatalf("OldestWith(3) of a segment of 2 records = %v, %v; want nil", sg, err)
	}
	first, err := sp.OldestWith(2)
	if err != nil || first == nil {
		t.Fatalf("OldestWith(2) = %v, %v", first, err)
	}
	// Sealed: the next append opens a second segment.
	if err := sp.Append([]Entry{e}); err != nil {
		t.Fatal(err)
	}
	if sp.Segments() != 2 {
		t.Fatalf("%d segments, want 2", sp.Segments())
	}
	free := sp.Free()
	many := make([]Entry, free/e.Size()+1)
	for i := range many {
		many[i] = e
	}
	if err := sp.Append(many); !errors.Is(err, ErrFull) {
		t.Fatalf("appending %d bytes with %d free: %v, want ErrFull", int64(len(many))*e.Size(), free, err)
	}
	if _, n := sp.Size(); n != 3 {
		t.Fatalf("%d records after a refused append, want 3", n)
	}
	if err := sp.Remove(first); err != nil {
		t.Fatal(err)
	}
	if sp.Free() <= free {
		t.Fatalf("free %d after removing a segment, was %d", sp.Free(), free)
	}
	if err := sp.Append(many[:2]); err != nil {
		t.Fatal(err)
	}
}
