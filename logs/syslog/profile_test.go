package syslog

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestZones: an abbreviation is read at the offset a profile gives it,
// else as the IANA database knows it, and of several offsets (CST: US
// Central, China) at the one nearest the arrival.
func TestZones(t *testing.T) {
	src := netip.MustParseAddr("2001:db8::1")
	arrival := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		line    string
		profile Profile
		want    time.Time
	}{
		{"<189>Nov 25 13:00:00 CET: %SYS-5-CONFIG_I: x", Profile{}, arrival},
		{"<189>Nov 25 06:00:00 CST: %SYS-5-CONFIG_I: x", Profile{}, arrival},
		{"<189>Nov 25 20:00:00 CST: %SYS-5-CONFIG_I: x", Profile{}, arrival},
		{"<189>Nov 25 17:30:00 IST: %SYS-5-CONFIG_I: x", Profile{}, arrival},
		{"<189>Nov 25 13:00:00 MEZ: %SYS-5-CONFIG_I: x", Profile{Zones: ZoneTable{"MEZ": 3600}}, arrival},
		{"<189>Nov 25 20:00:00 CST: %SYS-5-CONFIG_I: x", Profile{Zones: ZoneTable{"CST": -6 * 3600}}, arrival.Add(14 * time.Hour)},
		{"<189>Nov 25 13:00:00: %SYS-5-CONFIG_I: x", Profile{Location: time.FixedZone("", 3600)}, arrival},
		{"<189>Nov 25 13:00:00 UTC+1: %SYS-5-CONFIG_I: x", Profile{}, arrival},
		// Times in the message read in the profile's zone too.
		{`<189>date=2026-11-25 time=13:00:00 devname="fw1" logid="0000000013" type="traffic"`, Profile{Location: time.FixedZone("", 3600)}, arrival},
		{`<189>date=2026-11-25 time=13:00:00 devname="fw1" logid="0000000013" tz="+0100"`, Profile{}, arrival},
		{"<14>1,2026/11/25 13:00:00,012801096514,TRAFFIC,end,2049", Profile{Location: time.FixedZone("", 3600)}, arrival},
	} {
		r := Parse([]byte(c.line), src, arrival, c.profile)
		if !r.Timestamp.Equal(c.want) {
			t.Errorf("%s with %+v: %v, want %v", c.line, c.profile, r.Timestamp, c.want)
		}
	}
}

// TestDialects: a profile's dialect settles whether the word after the
// timestamp is a hostname.
func TestDialects(t *testing.T) {
	src := netip.MustParseAddr("2001:db8::1")
	for _, c := range []struct {
		dialect, line, host, app string
	}{
		{"", "<13>Nov 25 10:00:06 router1 Interface 3 down", "router1", ""},
		{"no-host", "<13>Nov 25 10:00:06 Interface 3 down", "", ""},
		{"", "<13>Nov 25 10:00:06 web1: disk full", "", "web1"},
		{"rfc3164", "<13>Nov 25 10:00:06 web1: disk full", "web1", ""},
		{"linux", "<13>Nov 25 10:00:06 web1 cron[12]: job", "web1", "cron"},
	} {
		r := Parse([]byte(c.line), src, now, Profile{Dialect: c.dialect})
		if r.HostName != c.host || r.Fields["log.syslog.appname"] != c.app {
			t.Errorf("dialect %q, %s: host %q app %q, want %q %q", c.dialect, c.line, r.HostName, r.Fields["log.syslog.appname"], c.host, c.app)
		}
	}
}

// TestClockSkewPerSender: the skew series keep the first maxSkewSenders
// senders and count the rest as "other".
func TestClockSkewPerSender(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newSkewMetrics(promauto.With(reg))
	for i := range maxSkewSenders + 5 {
		m.observe(fmt.Sprintf("2001:db8::%x", i), -time.Duration(i)*time.Hour)
	}
	m.observe("2001:db8::1", 13*24*time.Hour)
	if got := testutil.ToFloat64(m.lines.WithLabelValues("other")); got != 5 {
		t.Errorf("lines of senders beyond the bound: %v, want 5", got)
	}
	if got := testutil.ToFloat64(m.lines.WithLabelValues("2001:db8::1")); got != 2 {
		t.Errorf("lines of 2001:db8::1: %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.latest.WithLabelValues("2001:db8::1")); got != 13*24*3600 {
		t.Errorf("latest skew of 2001:db8::1: %v", got)
	}
	if n := testutil.CollectAndCount(m.lines); n != maxSkewSenders+1 {
		t.Errorf("%d series, want %d", n, maxSkewSenders+1)
	}
}
