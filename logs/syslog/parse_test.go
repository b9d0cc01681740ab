package syslog

import (
	"net/netip"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/kusanagi-dev/kusanagi/logs"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// corpus holds lines in the dialects network gear sends, with the fields
// each must give.
var corpus = []struct {
	name, line string
	ts         time.Time
	host       string
	message    string
	fields     map[string]string
}{
	{"cisco ios, no hostname, counter, unsynced clock, UTC",
		"<187>52: *Nov 25 10:48:50.483 UTC: %LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to down",
		time.Date(2026, 11, 25, 10, 48, 50, 483e6, time.UTC), "",
		"%LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to down",
		map[string]string{"event.code": "LINK-3-UPDOWN", "event.sequence": "52", "log.syslog.clock": "unsynchronized", "log.syslog.severity.code": "3", "log.syslog.facility.code": "23"}},
	{"cisco ios with hostname and counter",
		"<189>Nov 25 10:00:01 core-sw1 123: %LINEPROTO-5-UPDOWN: Line protocol on Interface Gi0/1, changed state to down",
		time.Date(2026, 11, 25, 10, 0, 1, 0, time.UTC), "core-sw1",
		"%LINEPROTO-5-UPDOWN: Line protocol on Interface Gi0/1, changed state to down",
		map[string]string{"event.code": "LINEPROTO-5-UPDOWN", "event.sequence": "123"}},
	{"nx-os with year and zone",
		"<189>: 2026 Nov 25 10:00:02 UTC: %BGP-5-ADJCHANGE: neighbor 2001:db8::2 Down BGP Notification sent",
		time.Date(2026, 11, 25, 10, 0, 2, 0, time.UTC), "",
		"%BGP-5-ADJCHANGE: neighbor 2001:db8::2 Down BGP Notification sent",
		map[string]string{"event.code": "BGP-5-ADJCHANGE"}},
	{"asa with year after the day",
		"<166>Nov 25 2026 10:00:03: %ASA-6-302013: Built outbound TCP connection 1 for outside:192.0.2.1/443",
		time.Date(2026, 11, 25, 10, 0, 3, 0, time.UTC), "",
		"%ASA-6-302013: Built outbound TCP connection 1 for outside:192.0.2.1/443",
		map[string]string{"event.code": "ASA-6-302013", "log.syslog.severity.code": "6"}},
	{"juniper",
		"<28>Nov 25 10:00:04 mx1 mib2d[1234]: SNMP_TRAP_LINK_DOWN: ifIndex 529, ifAdminStatus up(1), ifOperStatus down(2), ifName ge-0/0/1",
		time.Date(2026, 11, 25, 10, 0, 4, 0, time.UTC), "mx1",
		"SNMP_TRAP_LINK_DOWN: ifIndex 529, ifAdminStatus up(1), ifOperStatus down(2), ifName ge-0/0/1",
		map[string]string{"event.code": "SNMP_TRAP_LINK_DOWN", "log.syslog.appname": "mib2d", "log.syslog.procid": "1234"}},
	{"linux rsyslog bsd",
		"<86>Nov 25 10:00:05 web1 sshd[99]: Accepted publickey for root from 2001:db8::9 port 50000",
		time.Date(2026, 11, 25, 10, 0, 5, 0, time.UTC), "web1",
		"Accepted publickey for root from 2001:db8::9 port 50000",
		map[string]string{"log.syslog.appname": "sshd", "log.syslog.procid": "99"}},
	{"gear without a hostname, tag only",
		"<13>Nov 25 10:00:06 kernel: eth0: link down",
		time.Date(2026, 11, 25, 10, 0, 6, 0, time.UTC), "",
		"eth0: link down",
		map[string]string{"log.syslog.appname": "kernel"}},
	{"arista with rfc3339",
		"<187>2026-11-25T10:00:07.123456+00:00 leaf1 Ebra: %LINEPROTO-5-UPDOWN: Line protocol on Interface Ethernet1, changed state to down",
		time.Date(2026, 11, 25, 10, 0, 7, 123456000, time.UTC), "leaf1",
		"%LINEPROTO-5-UPDOWN: Line protocol on Interface Ethernet1, changed state to down",
		map[string]string{"log.syslog.appname": "Ebra", "event.code": "LINEPROTO-5-UPDOWN"}},
	{"rfc 5424 with structured data",
		`<165>1 2026-11-25T10:00:08.5Z r1.example.net bgpd 4242 ADJ [origin ip="2001:db8::1"][meta sequenceId="7"] neighbor 2001:db8::2 Down`,
		time.Date(2026, 11, 25, 10, 0, 8, 5e8, time.UTC), "r1.example.net",
		"neighbor 2001:db8::2 Down",
		map[string]string{"log.syslog.appname": "bgpd", "log.syslog.procid": "4242", "log.syslog.msgid": "ADJ",
			"log.syslog.structured_data.origin.ip": "2001:db8::1", "log.syslog.structured_data.meta.sequenceId": "7"}},
	{"not syslog at all",
		"hello from a misconfigured script",
		now, "", "hello from a misconfigured script",
		map[string]string{"event.outcome": "parse_error: no <PRI>"}},
}

func TestCorpus(t *testing.T) {
	src := netip.MustParseAddr("::ffff:192.0.2.10")
	for _, c := range corpus {
		t.Run(c.name, func(t *testing.T) {
			r := Parse([]byte(c.line+"\n"), src, now, Profile{})
			if !r.Timestamp.Equal(c.ts) {
				t.Errorf("@timestamp %v, want %v", r.Timestamp, c.ts)
			}
			if r.HostName != c.host {
				t.Errorf("host.name %q, want %q", r.HostName, c.host)
			}
			if r.Message != c.message {
				t.Errorf("message %q, want %q", r.Message, c.message)
			}
			if r.HostIP != "192.0.2.10" {
				t.Errorf("host.ip %q: from the socket, unmapped", r.HostIP)
			}
			if r.Original != c.line {
				t.Errorf("event.original %q", r.Original)
			}
			for k, v := range c.fields {
				if r.Fields[k] != v {
					t.Errorf("%s = %q, want %q (fields %v)", k, r.Fields[k], v, r.Fields)
				}
			}
		})
	}
}

func TestProfile(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone database: ", err)
	}
	r := Parse([]byte("<189>Nov 25 11:00:00 sw1 1: %SYS-5-RESTART: System restarted --"), netip.MustParseAddr("10.0.0.1"), now,
		Profile{Location: berlin, HostName: "sw1.example.net"})
	if !r.Timestamp.Equal(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)) || r.HostName != "sw1.example.net" {
		t.Fatalf("profile: %v %q", r.Timestamp, r.HostName)
	}
}

func TestLastYearInJanuary(t *testing.T) {
	jan := time.Date(2027, 1, 1, 0, 5, 0, 0, time.UTC)
	r := Parse([]byte("<13>Dec 31 23:59:00 h app: x"), netip.MustParseAddr("10.0.0.1"), jan, Profile{})
	if r.Timestamp.Year() != 2026 {
		t.Fatalf("a December line read on January 1st dated %v", r.Timestamp)
	}
}

// FuzzParse: any bytes give a record that keeps the raw line and its
// arrival, seeded with the lines of the public corpus.
func FuzzParse(f *testing.F) {
	for _, c := range corpus {
		f.Add([]byte(c.line))
	}
	for _, g := range readGear(f) {
		f.Add([]byte(g.Line))
	}
	src := netip.MustParseAddr("2001:db8::1")
	f.Fuzz(func(t *testing.T, b []byte) {
		r := Parse(b, src, now, Profile{})
		if r.HostIP != "2001:db8::1" || r.Fields == nil || !r.Received.Equal(now) {
			t.Fatalf("record lost its source or arrival: %+v", r)
		}
		if raw := strings.TrimRight(string(b), "\r\n\x00"); r.Original != raw {
			t.Fatalf("event.original %q, want the line %q", r.Original, raw)
		}
		if !r.Timestamp.Equal(now) && r.Fields[SkewField] == "" && (r.Timestamp.Sub(now) > ClockSkewThreshold || now.Sub(r.Timestamp) > ClockSkewThreshold) {
			t.Fatalf("a time %v far from the arrival is not marked: %+v", r.Timestamp, r)
		}
	})
}

// BenchmarkParse is the parse cost per line over the corpus's dialects:
// Parse, which makes a record of its own, and what a stream receiver
// spends per line before the store (one reused record, its strings in the
// read buffer, encoded into a batch).
func BenchmarkParse(b *testing.B) {
	src := netip.MustParseAddr("2001:db8::1")
	// The corpus's lines arrive about when they were stamped, as live
	// gear's do: no clock skew to mark.
	now := time.Date(2026, 11, 25, 10, 0, 5, 0, time.UTC)
	lines := make([][]byte, len(corpus))
	for i, c := range corpus {
		lines[i] = []byte(c.line)
	}
	b.Run("record", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			Parse(lines[i%len(lines)], src, now, Profile{})
			i++
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	})
	b.Run("stream", func(b *testing.B) {
		var ps parsed
		var batch logs.Batch
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			line := lines[i%len(lines)]
			parseInto(&ps, unsafe.String(&line[0], len(line)), line, "2001:db8::1", now, Profile{})
			batch.Add(&ps.rec, ps.fields...)
			if batch.Len() == 500 {
				batch.Reset()
			}
			i++
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	})
}
