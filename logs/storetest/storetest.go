// Package storetest is the contract every log store backend passes: the
// same records and the same catalogue queries must give the same answers
// on the embedded store and on Elasticsearch.
package storetest

import (
	"context"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kusanagi-dev/kusanagi/logs"
	"github.com/kusanagi-dev/kusanagi/logs/query"
)

// Base is the time of the first record.
var Base = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// Records are network gear's lines and a raw trap, one second apart.
func Records() []logs.Record {
	at := func(i int) time.Time { return Base.Add(time.Duration(i) * time.Second) }
	recs := []logs.Record{
		{Timestamp: at(0), HostIP: "2001:db8::1", Message: "Interface GigabitEthernet0/1, changed state to down",
			Fields: map[string]string{"event.code": "LINK-3-UPDOWN", "log.syslog.severity.code": "3"}},
		{Timestamp: at(1), HostIP: "2001:db8::1", Message: "Line protocol on Interface GigabitEthernet0/1, changed state to down",
			Fields: map[string]string{"event.code": "LINEPROTO-5-UPDOWN", "log.syslog.severity.code": "5"}},
		{Timestamp: at(2), HostIP: "192.0.2.7", Message: "Interface GigabitEthernet0/2, changed state to down",
			Fields: map[string]string{"event.code": "LINK-3-UPDOWN", "log.syslog.severity.code": "3"}},
		{Timestamp: at(3), HostIP: "192.0.2.7", Message: "Interface GigabitEthernet0/2, changed state to up",
			Fields: map[string]string{"event.code": "LINK-3-UPDOWN", "log.syslog.severity.code": "3"}},
		{Timestamp: at(4), HostIP: "192.0.2.8", Message: "neighbor 2001:db8::2 Down BGP Notification sent",
			Fields: map[string]string{"event.code": "BGP-5-ADJCHANGE", "log.syslog.severity.code": "5"}},
		{Timestamp: at(5), HostIP: "10.1.1.1", Message: "SNMP_TRAP_LINK_DOWN: ifIndex 529, ifAdminStatus up(1), ifOperStatus down(2), ifName ge-0/0/1",
			Fields: map[string]string{"event.code": "SNMP_TRAP_LINK_DOWN", "log.syslog.appname": "mib2d"}},
		{Timestamp: at(6), HostIP: "10.1.1.2", Message: "IF-MIB::linkDown from 10.1.1.2",
			Fields: map[string]string{"event.dataset": "snmp.trap", "snmp.trap.oid": "1.3.6.1.6.3.1.1.5.3", "snmp.version": "2c"}},
	}
	for i := range recs {
		recs[i].Received = recs[i].Timestamp // each arrived as stamped
	}
	return recs
}

// Case is a query and the indexes of Records it matches.
type Case struct {
	Query string
	Want  []int
}

// Cases cover every node of the query form. Words are split as
// Elasticsearch's standard analyzer splits them: "down(2)" holds the word
// down, "SNMP_TRAP_LINK_DOWN" is one word.
var Cases = []Case{
	{`down`, []int{0, 1, 2, 4, 5}},
	{`message:DOWN`, []int{0, 1, 2, 4, 5}},
	{`message:SNMP_TRAP_LINK_DOWN`, []int{5}},
	{`event.code:"LINK-3-UPDOWN" AND message:"changed state to down"`, []int{0, 2}},
	{`event.code:"LINK-3-UPDOWN" AND NOT message:down`, []int{3}},
	{`event.code:LINK-3-UPDOWN OR event.code:LINEPROTO-5-UPDOWN`, []int{0, 1, 2, 3}},
	{`event.code:(LINK-3-UPDOWN OR BGP-5-ADJCHANGE) AND host.ip:192.0.2.0/24`, []int{2, 3, 4}},
	{`host.ip:2001:db8::1`, []int{0, 1}},
	{`host.ip:10.0.0.0/8`, []int{5, 6}},
	{`event.code:LINK*`, []int{0, 2, 3}},
	{`message:Gigabit*`, []int{0, 1, 2, 3}},
	{`message:ge-0/0/?`, []int{}},
	{`log.syslog.severity.code:[3 TO 4]`, []int{0, 2, 3}},
	{`log.syslog.severity.code:>=5`, []int{1, 4}},
	{`_exists_:snmp.trap.oid`, []int{6}},
	{`event.dataset:snmp.trap AND snmp.version:2c`, []int{6}},
	{`-down AND _exists_:event.code`, []int{3}},
	{`message:"ifAdminStatus up"`, []int{5}},
}

// Run loads Records into a fresh store and checks every case, Search and
// Count (also grouped by host.ip).
func Run(t *testing.T, newStore func(t *testing.T) logs.Store) {
	ctx := context.Background()
	s := newStore(t)
	recs := Records()
	if err := s.Write(ctx, recs); err != nil {
		t.Fatal(err)
	}
	from, to := Base.Add(-time.Minute), Base.Add(time.Minute)
	for _, c := range Cases {
		t.Run(c.Query, func(t *testing.T) {
			q, err := query.Parse(c.Query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Search(ctx, q, from, to, 100)
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Compact(slices.Sorted(slices.Values(c.Want)))
			var gotIdx []int
			for _, r := range got {
				for i, rec := range recs {
					if r.Timestamp.Equal(rec.Timestamp) {
						gotIdx = append(gotIdx, i)
					}
				}
			}
			slices.Sort(gotIdx)
			if !slices.Equal(gotIdx, want) {
				t.Fatalf("Search(%s) matched records %v, want %v", c.Query, gotIdx, want)
			}
			counts, err := s.Count(ctx, q, nil, from, to)
			if err != nil {
				t.Fatal(err)
			}
			var n int64
			for _, gc := range counts {
				n += gc.Count
			}
			if n != int64(len(want)) {
				t.Fatalf("Count(%s) = %d, want %d", c.Query, n, len(want))
			}
		})
	}
	t.Run("count per host", func(t *testing.T) {
		q, _ := query.Parse(`event.code:"LINK-3-UPDOWN" AND message:"changed state to down"`)
		counts, err := s.Count(ctx, q, []string{"host.ip"}, from, to)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, gc := range counts {
			got[gc.Group["host.ip"]] = gc.Count
		}
		if len(got) != 2 || got["2001:db8::1"] != 1 || got["192.0.2.7"] != 1 {
			t.Fatalf("counts per host.ip: %v", got)
		}
	})
	t.Run("count per several fields", func(t *testing.T) {
		// A record without one of the fields is counted under "" for it.
		q, _ := query.Parse(`_exists_:event.code`)
		counts, err := s.Count(ctx, q, []string{"event.code", "log.syslog.appname"}, from, to)
		if err != nil {
			t.Fatal(err)
		}
		got := map[[2]string]int64{}
		for _, gc := range counts {
			got[[2]string{gc.Group["event.code"], gc.Group["log.syslog.appname"]}] += gc.Count
		}
		want := map[[2]string]int64{
			{"LINK-3-UPDOWN", ""}: 3, {"LINEPROTO-5-UPDOWN", ""}: 1, {"BGP-5-ADJCHANGE", ""}: 1, {"SNMP_TRAP_LINK_DOWN", "mib2d"}: 1,
		}
		if !maps.Equal(got, want) {
			t.Fatalf("counts per event.code and log.syslog.appname: %v, want %v", got, want)
		}
	})
	t.Run("search limit", func(t *testing.T) {
		got, err := s.Search(ctx, nil, from, to, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || !got[0].Timestamp.Equal(Base.Add(6*time.Second)) || !got[1].Timestamp.Equal(Base.Add(5*time.Second)) {
			t.Fatalf("limit 2: want the two newest records, got %+v", got)
		}
	})
	t.Run("round trip", func(t *testing.T) {
		got, err := s.Search(ctx, nil, from, to, 100)
		if err != nil {
			t.Fatal(err)
		}
		slices.Reverse(got)
		if len(got) != len(recs) {
			t.Fatalf("%d records, want %d", len(got), len(recs))
		}
		for i := range recs {
			if !reflect.DeepEqual(got[i], recs[i]) {
				t.Errorf("record %d:\n got %+v\nwant %+v", i, got[i], recs[i])
			}
		}
	})
	t.Run("sender clocks", func(t *testing.T) { runClocks(t, s) })
	t.Run("time window", func(t *testing.T) {
		got, err := s.Search(ctx, nil, Base.Add(2*time.Second), Base.Add(4*time.Second), 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || !got[0].Timestamp.Equal(Base.Add(3*time.Second)) {
			t.Fatalf("window [2s,4s): %d records, newest %v", len(got), got)
		}
		if !strings.Contains(got[0].Message, "changed state to up") || got[0].Fields["event.code"] != "LINK-3-UPDOWN" {
			t.Fatalf("record round trip: %+v", got[0])
		}
	})
}

// RunWriter starts a logs.Writer with o (its spool in a temporary
// directory) until the test ends: the receivers' tests write through it as
// kusanagi does.
func RunWriter(t *testing.T, o logs.WriterOptions) *logs.Writer {
	t.Helper()
	o.SpoolDir = t.TempDir()
	w, err := logs.NewWriter(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return w
}
