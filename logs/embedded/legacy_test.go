package embedded

import (
	"context"
	"testing"
	"time"

	"github.com/kusanagi-dev/kusanagi/logs"
)

// TestDayFilesOfEarlierVersionsRead: rows written before records had an
// arrival time hold one time, in the ts column (read as both), and for a
// line stamped more than a day ahead the sender's time in
// kusanagi.original_timestamp (read back as the record's Timestamp).
func TestDayFilesOfEarlierVersionsRead(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	written := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	ahead := "2027-03-01T00:00:00Z"
	if err := s.Write(ctx, []logs.Record{
		{Timestamp: written, Message: "a line of the old layout", HostIP: "2001:db8::1"},
		{Timestamp: written.Add(time.Second), Message: "a restamped line", HostIP: "2001:db8::1",
			Fields: map[string]string{legacyTimestampField: ahead, "event.code": "LINK-3-UPDOWN"}},
	}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Search(ctx, nil, written.Add(-time.Minute), written.Add(time.Minute), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d records", len(got))
	}
	if r := got[1]; !r.Timestamp.Equal(written) || !r.Received.Equal(written) {
		t.Errorf("old layout: @timestamp %v, event.created %v, want both %v", r.Timestamp, r.Received, written)
	}
	if r := got[0]; r.Timestamp.Format(time.RFC3339) != ahead || !r.Received.Equal(written.Add(time.Second)) || r.Fields[legacyTimestampField] != "" || r.Fields["event.code"] != "LINK-3-UPDOWN" {
		t.Errorf("restamped: %+v", r)
	}
}
