package syslog

import (
	"regexp"
	"testing"
	"time"
)

// The regular expressions and layouts scanStamp replaced: the reference
// it is fuzzed against.
var (
	stampDigitRE = regexp.MustCompile(`^([*.]?)(` +
		`(?P<iso>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))` +
		`|(?P<nxos>\d{4} [A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}(?:\.\d+)?)` +
		`)(?: (?P<tz>[A-Z]{2,5}))?`)
	stampLetterRE = regexp.MustCompile(`^([*.]?)(` +
		`(?P<asa>[A-Z][a-z]{2} +\d{1,2} \d{4} \d{2}:\d{2}:\d{2})` +
		`|(?P<bsd>[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}(?:\.\d+)?)` +
		`)(?: (?P<tz>[A-Z]{2,5}))?`)
	stampLayouts = map[string][]string{
		"iso":  {time.RFC3339Nano},
		"nxos": {"2006 Jan _2 15:04:05.999999999", "2006 Jan _2 15:04:05"},
		"asa":  {"Jan _2 2006 15:04:05"},
		"bsd":  {"Jan _2 15:04:05.999999999", "Jan _2 15:04:05"},
	}
)

// regexpStamp reads s as the regular expressions did.
func regexpStamp(s string) (stamp, bool) {
	re := stampLetterRE
	if t := s; t != "" {
		if t[0] == '*' || t[0] == '.' {
			t = t[1:]
		}
		if t != "" && t[0] >= '0' && t[0] <= '9' {
			re = stampDigitRE
		}
	}
	m := re.FindStringSubmatchIndex(s)
	if m == nil {
		return stamp{}, false
	}
	st := stamp{mark: s[m[2]:m[3]], end: m[1]}
	for i, n := range re.SubexpNames() {
		if n == "" || m[2*i] < 0 {
			continue
		}
		if n == "tz" {
			st.tz = s[m[2*i]:m[2*i+1]]
		} else {
			st.kind, st.text = n, s[m[2*i]:m[2*i+1]]
		}
	}
	return st, true
}

// regexpTime is what time.Parse made of a stamp the regexps matched.
func regexpTime(kind, s string, loc *time.Location, now time.Time) (time.Time, bool) {
	for _, layout := range stampLayouts[kind] {
		ts, err := time.ParseInLocation(layout, s, loc)
		if err != nil {
			continue
		}
		if kind == "bsd" {
			ts = time.Date(now.In(loc).Year(), ts.Month(), ts.Day(), ts.Hour(), ts.Minute(), ts.Second(), ts.Nanosecond(), loc)
			if ts.After(now.Add(48 * time.Hour)) {
				ts = ts.AddDate(-1, 0, 0)
			}
		}
		return ts, true
	}
	return time.Time{}, false
}

// FuzzScanStamp checks that scanStamp reads every input as the regular
// expressions and time.Parse layouts it replaced did: same match, clock
// mark, form, text, zone and length, and the same instant or the same
// refusal.
func FuzzScanStamp(f *testing.F) {
	for _, s := range []string{
		"Nov 25 10:00:00 host", "*Nov 25 10:00:00.123 UTC: %LINK", ".Nov  5 10:00:00.1234567891 ABCDEFG x",
		"Nov   5 10:00:00 x", "Nov 05 10:00:00", "Nov 5 2026 10:00:00: %ASA", "Feb 29 2025 10:00:00", "Feb 29 10:00:00",
		"Feb 30 10:00:00", "Foo 12 10:00:00", "Nov 25 24:00:00", "Nov 25 23:60:00", "Nov 25 23:59:60", "Nov 0 10:00:00",
		"Nov 32 10:00:00", "Nov 12026 10:00:00", "Nov 25 10:00:00.", "Nov 25 10:00:00.x", "Nov 25 10:00:00 U",
		"Nov 25 10:00:00 UT", "Nov 25 10:00:00 UTCX:", "2026 Nov 25 10:00:00 UTC: %BGP", "2026 Nov 25 10:00:00.5",
		"0000 Feb 29 10:00:00", "2026-11-25T10:00:00Z", "2026-11-25T10:00:00.123456+01:00 host", "2026-11-25T10:00:00+24:00",
		"2026-13-25T10:00:00Z", "2026-11-25T10:00:00", "2026-11-25 10:00:00Z", "*", ".", "", "N", "12345", "*2026-11-25T10:00:00-05:30",
	} {
		f.Add(s)
	}
	loc := time.FixedZone("X", 3600)
	now := time.Date(2026, 1, 1, 0, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		want, wantOK := regexpStamp(s)
		got, gotOK := scanStamp(s)
		if gotOK != wantOK || got.mark != want.mark || got.kind != want.kind || got.text != want.text || got.tz != want.tz || got.end != want.end {
			t.Fatalf("scanStamp(%q) = %v %+v, regexps read %v %+v", s, gotOK, got, wantOK, want)
		}
		if !gotOK {
			return
		}
		wantTS, wantTimeOK := regexpTime(want.kind, want.text, loc, now)
		gotTS, gotTimeOK := got.time(loc, now)
		if gotTimeOK != wantTimeOK || !gotTS.Equal(wantTS) {
			t.Fatalf("time of %q = %v %v, time.Parse gave %v %v", s, gotTS, gotTimeOK, wantTS, wantTimeOK)
		}
	})
}
