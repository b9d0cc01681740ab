package syslog

import (
	"time"
)

// stamp is an RFC 3164 timestamp as gear sends it, read by scanStamp.
type stamp struct {
	mark string // "*" (clock not synchronized), "." (sync lost) or ""
	kind string // iso (RFC 3339), nxos, asa or bsd
	text string // the timestamp as sent
	tz   string // up to five capital letters after it: a zone, or a short hostname
	end  int    // bytes the mark, timestamp and tz take

	year, month, day, hour, minute, second, nsec int
}

// scanStamp reads the timestamp at the start of s, after an optional
// clock mark, in one of the forms gear uses:
//
//	iso   2026-11-25T10:00:00.123+01:00   (rsyslog, Arista)
//	nxos  2026 Nov 25 10:00:00[.123]      (NX-OS)
//	asa   Nov 25 2026 10:00:00            (ASA)
//	bsd   Nov 25 10:00:00[.123]           (RFC 3164, Cisco IOS, Juniper, Linux)
//
// It matches exactly what the regular expressions it replaced matched
// (FuzzScanStamp fuzzes one against the other); a line is
// read this way once per message, and the regexps took a third of the
// time spent parsing one.
func scanStamp(s string) (st stamp, ok bool) {
	i := 0
	if i < len(s) && (s[i] == '*' || s[i] == '.') {
		st.mark = s[:1]
		i++
	}
	start := i
	var n int
	switch {
	case i < len(s) && isDigit(s[i]):
		if n, ok = scanISO(s[i:]); ok {
			st.kind = "iso"
		} else if n, ok = scanNXOS(s[i:], &st); ok {
			st.kind = "nxos"
		}
	case i < len(s) && isUpper(s[i]):
		if n, ok = scanASA(s[i:], &st); ok {
			st.kind = "asa"
		} else if n, ok = scanBSD(s[i:], 0, &st); ok {
			st.kind = "bsd"
		}
	}
	if !ok {
		return stamp{}, false
	}
	i += n
	st.text = s[start:i]
	if i+2 < len(s) && s[i] == ' ' {
		j := i + 1
		for j < len(s) && j < i+6 && isUpper(s[j]) {
			j++
		}
		if j-i-1 >= 2 {
			st.tz = s[i+1 : j]
			i = j
		}
	}
	st.end = i
	return st, true
}

// time is the instant st names, read in loc when it carries no offset;
// a bsd stamp, which has no year, is taken in the year of now, or the
// year before for a December line read in January. false when the
// fields make no date or time (Feb 30, 25:00:00, an unknown month).
func (st stamp) time(loc *time.Location, now time.Time) (time.Time, bool) {
	if st.kind == "iso" {
		ts, err := time.Parse(time.RFC3339Nano, st.text)
		return ts, err == nil
	}
	year := st.year
	if st.kind == "bsd" {
		year = 0 // as time.Parse checks a date without a year: Feb 29 is one
	}
	if st.month == 0 || st.day < 1 || st.day > daysIn(st.month, year) ||
		st.hour > 23 || st.minute > 59 || st.second > 59 {
		return time.Time{}, false
	}
	if st.kind != "bsd" {
		return time.Date(year, time.Month(st.month), st.day, st.hour, st.minute, st.second, st.nsec, loc), true
	}
	ts := time.Date(now.In(loc).Year(), time.Month(st.month), st.day, st.hour, st.minute, st.second, st.nsec, loc)
	if ts.After(now.Add(48 * time.Hour)) {
		ts = ts.AddDate(-1, 0, 0)
	}
	return ts, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// digits reads exactly n digits at s[i:].
func digits(s string, i, n int) (int, bool) {
	if i+n > len(s) {
		return 0, false
	}
	v := 0
	for _, c := range []byte(s[i : i+n]) {
		if !isDigit(c) {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// literal tells whether s[i:] starts with c.
func literal(s string, i int, c byte) bool { return i < len(s) && s[i] == c }

// clock reads "15:04:05" at s[i:] and returns the index after it.
func clock(s string, i int, st *stamp) (int, bool) {
	var ok1, ok2, ok3 bool
	st.hour, ok1 = digits(s, i, 2)
	st.minute, ok2 = digits(s, i+3, 2)
	st.second, ok3 = digits(s, i+6, 2)
	if !ok1 || !ok2 || !ok3 || !literal(s, i+2, ':') || !literal(s, i+5, ':') {
		return 0, false
	}
	return i + 8, true
}

// fraction reads an optional ".123…" at s[i:]: it returns the index
// after all its digits and nanoseconds from the first nine.
func fraction(s string, i int) (end, nsec int) {
	if !literal(s, i, '.') || i+1 >= len(s) || !isDigit(s[i+1]) {
		return i, 0
	}
	end, scale := i+1, 100_000_000
	for ; end < len(s) && isDigit(s[end]); end++ {
		nsec += int(s[end]-'0') * scale
		scale /= 10
	}
	return end, nsec
}

var shortMonths = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// monthDay reads "Jan _2" at s[i:]: a capitalised three-letter word, one
// or more spaces and a day of one or two digits. It returns the index
// after the day; month is 0 for a word that is no month (a parse error
// later, as time.Parse would give).
func monthDay(s string, i int, st *stamp) (int, bool) {
	if i+3 > len(s) || !isUpper(s[i]) || s[i+1] < 'a' || s[i+1] > 'z' || s[i+2] < 'a' || s[i+2] > 'z' {
		return 0, false
	}
	st.month = 0
	for m, name := range shortMonths {
		if s[i:i+3] == name {
			st.month = m + 1
		}
	}
	j := i + 3
	for j < len(s) && s[j] == ' ' {
		j++
	}
	if j == i+3 || j >= len(s) || !isDigit(s[j]) {
		return 0, false
	}
	day, end := int(s[j]-'0'), j+1
	if end < len(s) && isDigit(s[end]) {
		day, end = day*10+int(s[end]-'0'), end+1
	}
	st.day = day
	return end, true
}

// scanBSD reads "Jan _2 15:04:05[.123]" at s[i:], as a BSD stamp or the
// part of an NX-OS one after its year.
func scanBSD(s string, i int, st *stamp) (int, bool) {
	i, ok := monthDay(s, i, st)
	if !ok || !literal(s, i, ' ') {
		return 0, false
	}
	if i, ok = clock(s, i+1, st); !ok {
		return 0, false
	}
	i, st.nsec = fraction(s, i)
	return i, true
}

func scanASA(s string, st *stamp) (int, bool) {
	i, ok := monthDay(s, 0, st)
	if !ok || !literal(s, i, ' ') || !literal(s, i+5, ' ') {
		return 0, false
	}
	if st.year, ok = digits(s, i+1, 4); !ok {
		return 0, false
	}
	return clock(s, i+6, st)
}

func scanNXOS(s string, st *stamp) (int, bool) {
	var ok bool
	if st.year, ok = digits(s, 0, 4); !ok || !literal(s, 4, ' ') {
		return 0, false
	}
	return scanBSD(s, 5, st)
}

// scanISO finds the extent of an RFC 3339 timestamp; time.Parse reads it.
func scanISO(s string) (int, bool) {
	for _, p := range []struct {
		at int
		c  byte
	}{{4, '-'}, {7, '-'}, {10, 'T'}, {13, ':'}, {16, ':'}} {
		if !literal(s, p.at, p.c) {
			return 0, false
		}
	}
	for _, at := range []int{0, 5, 8, 11, 14, 17} {
		n := 2
		if at == 0 {
			n = 4
		}
		if _, ok := digits(s, at, n); !ok {
			return 0, false
		}
	}
	i, _ := fraction(s, 19)
	switch {
	case literal(s, i, 'Z'):
		return i + 1, true
	case literal(s, i, '+') || literal(s, i, '-'):
		if _, ok := digits(s, i+1, 2); !ok || !literal(s, i+3, ':') {
			return 0, false
		}
		if _, ok := digits(s, i+4, 2); !ok {
			return 0, false
		}
		return i + 6, true
	}
	return 0, false
}
