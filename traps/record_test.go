package traps

import (
	"context"
	"testing"
	"time"

	"github.com/kusanagi-dev/kusanagi/logs"
	"github.com/kusanagi-dev/kusanagi/logs/embedded"
	"github.com/kusanagi-dev/kusanagi/logs/query"
	"github.com/kusanagi-dev/kusanagi/logs/storetest"
)

// TestEveryTrapIsStoredAndSearchable sends a matched and an unmatched trap
// with net-snmp's snmptrap and finds both in the embedded log store with
// catalogue queries.
func TestEveryTrapIsStoredAndSearchable(t *testing.T) {
	store, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() }) // after the writer stops
	w := storetest.RunWriter(t, logs.WriterOptions{Store: store, Name: "traps", FlushInterval: 10 * time.Millisecond})

	tr := startReceiver(t, testCatalogue, Options{Records: w})
	if out, err := netSNMP(t, "snmptrap", append([]string{"-v", "2c", "-c", "s3cret", "udp6:" + tr.v6, "", linkDown}, linkVarbinds...)...); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, err := netSNMP(t, "snmptrap", "-v", "3", "-u", "noc-sha-aes", "-l", "authPriv", "-a", "SHA", "-A", "authpass-123",
		"-x", "AES", "-X", "privpass-123", "-e", "0x80001f8880c1a2b3c4d5e6f708", "udp:"+tr.v4, "", "1.3.6.1.4.1.99999.0.9",
		"1.3.6.1.4.1.99999.1.2.1", "s", "psu-1"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	search := func(q string) []logs.Record {
		t.Helper()
		n, err := query.Parse(q)
		if err != nil {
			t.Fatal(err)
		}
		got, err := store.Search(context.Background(), n, time.Now().Add(-time.Minute), time.Now().Add(time.Minute), 10)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(search(`event.dataset:snmp.trap`)) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("traps not stored within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	got := search(`event.code:"IF-MIB::linkDown" AND snmp.varbind.IF-MIB.ifDescr:GigabitEthernet0/3 AND host.ip:"::1"`)
	if len(got) != 1 || got[0].Fields["snmp.version"] != "2c" || got[0].Fields["snmp.community"] != "s3cret" {
		t.Fatalf("linkDown record: %+v", got)
	}
	got = search(`snmp.trap.oid:"1.3.6.1.4.1.99999.0.9" AND snmp.user:noc-sha-aes AND message:psu`)
	if len(got) != 1 || got[0].HostIP != "127.0.0.1" || got[0].Fields["snmp.version"] != "3" {
		t.Fatalf("unmatched v3 trap record: %+v", got)
	}
}
