package syslog

import (
	"strings"
	"testing"
	"time"
)

// stampLayouts are time.Parse layouts of the forms scanStamp reads: the
// reference the fuzz target compares it with.
var stampLayouts = map[string][]string{
	"iso":  {time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"},
	"nxos": {"2006 Jan _2 15:04:05.999999999", "2006 Jan _2 15:04:05"},
	"asa":  {"Jan _2 2006 15:04:05.999999999", "Jan _2 2006 15:04:05", "Jan _2 15:04:05 2006"},
	"bsd":  {"Jan _2 15:04:05.999999999", "Jan _2 15:04:05"},
	"us":   {"01/02/2006 15:04:05.999999999", "01/02/2006 15:04:05"},
}

// referenceTime is what time.Parse makes of a stamp's text, a BSD one in
// the year nearest to now; false when no layout reads it (Comware's
// ":123" milliseconds, which time.Parse has no layout for).
func referenceTime(st *stamp, loc *time.Location, now time.Time) (time.Time, bool) {
	if st.hasOffset {
		loc = time.FixedZone("", st.offset)
	}
	text := st.text
	if st.kind == "iso" && st.hasOffset && strings.HasSuffix(text, "Z") {
		text = strings.TrimSuffix(text, "Z") + "+00:00"
	}
	for _, layout := range stampLayouts[st.kind] {
		ts, err := time.ParseInLocation(layout, text, loc)
		if err != nil {
			continue
		}
		if st.kind == "bsd" {
			ts = ts.AddDate(now.In(loc).Year()+1, 0, 0) // time.Parse reads year 0
			for ts.Month() != time.Month(st.month) || ts.After(now.Add(31*24*time.Hour)) {
				ts = time.Date(ts.Year()-1, time.Month(st.month), st.day, ts.Hour(), ts.Minute(), ts.Second(), ts.Nanosecond(), loc)
			}
		}
		return ts, true
	}
	return time.Time{}, false
}

// FuzzScanStamp checks that scanStamp never reads past its input, that
// its text is what follows the mark, and that the instant it reads is the
// one time.Parse reads from that text with the form's layouts (or a
// refusal where time.Parse refuses).
func FuzzScanStamp(f *testing.F) {
	for _, s := range []string{
		"Nov 25 10:00:00 host", "*Nov 25 10:00:00.123 UTC: %LINK", ".Nov  5 10:00:00.1234567891 ABCDEFG x",
		"Nov   5 10:00:00 x", "Nov 05 10:00:00", "Nov 5 2026 10:00:00: %ASA", "Feb 29 2025 10:00:00", "Feb 29 10:00:00",
		"Feb 30 10:00:00", "Foo 12 10:00:00", "Nov 25 24:00:00", "Nov 25 23:60:00", "Nov 25 23:59:60", "Nov 0 10:00:00",
		"Nov 32 10:00:00", "Nov 12026 10:00:00", "Nov 25 10:00:00.", "Nov 25 10:00:00.x", "Nov 25 10:00:00 U",
		"Nov 25 10:00:00 UT", "Nov 25 10:00:00 UTCX:", "2026 Nov 25 10:00:00 UTC: %BGP", "2026 Nov 25 10:00:00.5",
		"0000 Feb 29 10:00:00", "2026-11-25T10:00:00Z", "2026-11-25T10:00:00.123456+01:00 host", "2026-11-25T10:00:00+24:00",
		"2026-13-25T10:00:00Z", "2026-11-25T10:00:00", "2026-11-25 10:00:00Z", "*", ".", "", "N", "12345", "*2026-11-25T10:00:00-05:30",
		"23:07:13: %BGP", "1d02h: %SYS", "2y10w: %LINK", "3w5d:", "12:00:00.5 x", "Dec  6 14:34:51:123 2014 H3C",
		"Dec  6 14:34:51 2014 H3C", "Oct 10 2012 09:14:56+08:00 DST HUAWEI", "Jan 25 2020 13:42:05.123-0800 x", "Nov 25 10:00:00+08 x", "10/15/2019 14:11:03.82 <Info:x>", "May 6 16:13:09.123 UTC+1: %X", "May 6 16:13:09 UTC-07:30 x", "Aug 24 05:34:00 CST 1987 mymachine",
	} {
		f.Add(s)
	}
	loc := time.FixedZone("X", 3600)
	now := time.Date(2026, 1, 1, 0, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		var st stamp
		if !scanStamp(s, &st) {
			return
		}
		if st.end > len(s) || !strings.HasPrefix(s[len(st.mark):], st.text) || st.text == "" {
			t.Fatalf("scanStamp(%q) = %+v: text or end not within the input", s, st)
		}
		if st.kind == "uptime" {
			if st.uptime < 0 {
				t.Fatalf("scanStamp(%q): uptime %v", s, st.uptime)
			}
			return
		}
		want, wantOK := referenceTime(&st, loc, now)
		got, gotOK := st.time(loc, now)
		if wantOK && (!gotOK || !got.Equal(want)) || !wantOK && gotOK && !strings.Contains(st.text, ":") {
			t.Fatalf("time of %q (%+v) = %v %v, time.Parse gave %v %v", s, st, got, gotOK, want, wantOK)
		}
	})
}
