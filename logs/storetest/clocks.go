package storetest

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/kusanagi-dev/kusanagi/logs"
	"github.com/kusanagi-dev/kusanagi/logs/query"
)

// Arrived is when the records of SkewedRecords arrived: an hour after
// Base, so that no window of Records holds them.
var Arrived = Base.Add(time.Hour)

// SkewedRecords arrived a second apart from Arrived, stamped by clocks
// that are wrong as gear clocks are: a router that booted without NTP
// into 1993, RFC 5424's example line of 2003, an epoch counted in the
// wrong zone, 13 days behind, 3 days ahead, and a line with no time of
// its own.
func SkewedRecords() []logs.Record {
	stamps := []time.Time{
		time.Date(1993, 3, 1, 0, 0, 12, 123e6, time.UTC),
		time.Date(2003, 10, 11, 22, 14, 15, 3e6, time.UTC),
		time.Date(1969, 12, 31, 19, 0, 0, 0, time.UTC),
		Arrived.Add(-13 * 24 * time.Hour),
		Arrived.Add(3 * 24 * time.Hour),
		{}, // no sender time: the arrival
	}
	recs := make([]logs.Record, len(stamps))
	for i, ts := range stamps {
		received := Arrived.Add(time.Duration(i) * time.Second)
		if ts.IsZero() {
			ts = received
		}
		recs[i] = logs.Record{Timestamp: ts, Received: received, HostIP: "2001:db8::99",
			Message: "Interface GigabitEthernet0/9, changed state to down",
			Fields:  map[string]string{"event.code": "LINK-3-UPDOWN"}}
	}
	return recs
}

// runClocks checks that arrival decides: windows and search ranges hold
// each record by when it arrived, its own time comes back unchanged and
// a range on @timestamp finds it by that time.
func runClocks(t *testing.T, s logs.Store) {
	ctx := context.Background()
	recs := SkewedRecords()
	if err := s.Write(ctx, recs); err != nil {
		t.Fatal(err)
	}
	from, to := Arrived.Add(-time.Minute), Arrived.Add(time.Minute)
	got, err := s.Search(ctx, nil, from, to, 100)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(got)
	if len(got) != len(recs) {
		t.Fatalf("a window around their arrival holds %d records, want %d: %+v", len(got), len(recs), got)
	}
	for i := range recs {
		if !reflect.DeepEqual(got[i], recs[i]) {
			t.Errorf("record %d:\n got %+v\nwant %+v", i, got[i], recs[i])
		}
	}
	q, _ := query.Parse(`event.code:"LINK-3-UPDOWN" AND host.ip:"2001:db8::99"`)
	counts, err := s.Count(ctx, q, []string{"host.ip"}, Arrived.Add(-30*time.Second), Arrived.Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(counts) != 1 || counts[0].Count != int64(len(recs)) {
		t.Fatalf("a one-minute window counts %+v, want %d", counts, len(recs))
	}
	// Where the sender's clock says they are, nothing is looked for.
	for _, at := range []time.Time{recs[0].Timestamp, recs[3].Timestamp, recs[4].Timestamp} {
		got, err := s.Search(ctx, nil, at.Add(-time.Minute), at.Add(time.Minute), 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 0 {
			t.Fatalf("a window around a sender's time %v holds %+v", at, got)
		}
	}
	for _, c := range []struct {
		query string
		want  []int
	}{
		{`@timestamp:[2003-10-11 TO 2003-10-12]`, []int{1}},
		{`@timestamp:<2000-01-01`, []int{0, 2}},
		{`@timestamp:>=` + Arrived.Format(time.RFC3339), []int{4, 5}},
		{`event.created:[` + Arrived.Add(3*time.Second).Format(time.RFC3339) + ` TO *]`, []int{3, 4, 5}},
	} {
		q, err := query.Parse(c.query)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Search(ctx, q, from, to, 100)
		if err != nil {
			t.Fatalf("%s: %v", c.query, err)
		}
		var idx []int
		for _, r := range got {
			for i := range recs {
				if r.Received.Equal(recs[i].Received) {
					idx = append(idx, i)
				}
			}
		}
		slices.Sort(idx)
		if !slices.Equal(idx, c.want) {
			t.Errorf("Search(%s) found %v, want %v", c.query, idx, c.want)
		}
	}
}
