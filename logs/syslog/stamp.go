package syslog

import (
	"time"
)

// stamp is a timestamp as gear writes it in an RFC 3164 header, read by
// scanStamp.
type stamp struct {
	mark string // "*" (clock not synchronized), "." (sync lost) or ""
	kind string // iso, nxos, asa, bsd (a wall time) or uptime (time since boot)
	text string // the timestamp as sent, without mark, offset and zone
	// offset is a numeric UTC offset written after the time (Huawei's
	// 10:07:15-08:00, RFC 3339's +01:00), in seconds; hasOffset tells
	// whether there was one.
	offset    int
	hasOffset bool
	tz        string // up to five capital letters after it: a zone, or a short hostname
	tzAt      int    // where tz starts in the scanned string
	end       int    // bytes the mark, timestamp, offset and tz take

	year, month, day, hour, minute, second, nsec int
	uptime                                       time.Duration // kind uptime
}

// scanStamp reads the timestamp at the start of s, after an optional
// clock mark, in one of the forms gear uses:
//
//	iso     2026-11-25T10:00:00.123+01:00   (rsyslog, Arista; also with a space for T, or no offset)
//	nxos    2026 Nov 25 10:00:00[.123]      (NX-OS)
//	asa     Nov 25 2026 10:00:00[.123]      (ASA, Huawei VRP)
//	bsd     Nov 25 10:00:00[.123]           (RFC 3164, Cisco IOS, Juniper, Linux)
//	        Dec  6 14:34:51[:123] 2014      (H3C / HPE Comware: milliseconds after a colon, the year after the time)
//	us      10/15/2019 14:11:03.82          (Extreme EXOS)
//	uptime  23:07:13[.123]  1d02h  2y10w    (Cisco `service timestamps log uptime`)
//
// A time but an iso one may be followed by a numeric offset
// (10:07:15-08:00, with Huawei's " DST" after it), and any time by a word
// of two to five capitals: a zone, or a short hostname (the caller tells).
// The digits of a fraction are read whatever their number; the first nine
// give the nanoseconds.
//
// st is filled in place (a stamp is too large to return by value on
// every line); it is left in an unspecified state when ok is false.
func scanStamp(s string, st *stamp) (ok bool) {
	*st = stamp{}
	i := 0
	if i < len(s) && (s[i] == '*' || s[i] == '.') {
		st.mark = s[:1]
		i++
	}
	start := i
	var n int
	switch {
	case i < len(s) && isDigit(s[i]):
		if n, ok = scanISO(s[i:], st); ok {
			st.kind = "iso"
		} else if n, ok = scanNXOS(s[i:], st); ok {
			st.kind = "nxos"
		} else if n, ok = scanUS(s[i:], st); ok {
			st.kind = "us"
		} else if n, ok = scanLooseDate(s[i:], st); ok {
			st.kind = "date"
		} else if n, ok = scanUptime(s[i:], st); ok {
			st.kind = "uptime"
		}
	case i < len(s) && isUpper(s[i]):
		// The month and day once, then the ASA form's year or the BSD
		// form's time.
		if day, good := monthDay(s[i:], 0, st); good {
			if n, ok = scanASAYear(s[i:], day, st); ok {
				st.kind = "asa"
			} else if n, ok = scanBSDTime(s[i:], day, st); ok {
				st.kind = "bsd"
				n = comwareYear(s[i:], n, st)
			}
		}
	}
	if !ok {
		return false
	}
	i += n
	st.text = s[start:i]
	if st.kind != "iso" && st.kind != "uptime" {
		if k, off, ok := scanOffset(s, i, false); ok {
			st.offset, st.hasOffset = off, true
			i = k
			if i+4 <= len(s) && s[i:i+4] == " DST" && (i+4 == len(s) || !isUpper(s[i+4])) {
				i += 4
			}
		}
	}
	if !st.hasOffset && i+2 < len(s) && s[i] == ' ' {
		j := i + 1
		for j < len(s) && j < i+6 && (isUpper(s[j]) || isLower(s[j])) {
			j++
		}
		// Capitals, or letters of any case before Cisco's colon ("mdt:").
		word := s[i+1 : j]
		if j-i-1 >= 2 && (literal(s, j, ':') || allUpper(word)) && (j == len(s) || !isUpper(s[j]) && !isLower(s[j]) && !isDigit(s[j])) {
			st.tz, st.tzAt = s[i+1:j], i+1
			i = j
			// A zone Cisco names after its offset: "UTC+1", "UTC+07:30".
			if k, off, ok := scanOffset(s, i, true); ok {
				st.offset, st.hasOffset = off, true
				i = k
			}
			// RFC 3164's example "Aug 24 05:34:00 CST 1987": the year after the zone.
			if year, ok := digits(s, i+1, 4); ok && st.kind == "bsd" && literal(s, i, ' ') && (i+5 == len(s) || s[i+5] == ' ') {
				st.kind, st.year = "asa", year
				i += 5
			}
		}
	}
	st.end = i
	return true
}

// time is the instant st names, read at the UTC offset it carries, else
// at offset (when withOffset), else in loc; a bsd stamp, which has no
// year, is taken in the latest year that does not put it more than
// maxAhead after now (a leap year for Feb 29). false when the
// fields make no date or time (Feb 30, 25:00:00, an unknown month) or st
// is an uptime.
func (st *stamp) time(loc *time.Location, now time.Time) (time.Time, bool) {
	if st.kind == "uptime" {
		return time.Time{}, false
	}
	if st.hasOffset {
		loc = time.FixedZone("", st.offset)
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
	local := now.In(loc)
	y, oldest := local.Year(), local.Year()-4
	if local.Month() == time.December && st.month == 1 {
		y++ // a January line read in December may be early next year's
	}
	for ; y >= oldest; y-- {
		if st.month == 2 && st.day == 29 && daysIn(2, y) != 29 {
			continue
		}
		if ts := time.Date(y, time.Month(st.month), st.day, st.hour, st.minute, st.second, st.nsec, loc); !ts.After(now.Add(maxAhead)) {
			return ts, true
		}
	}
	return time.Time{}, false
}

// maxAhead is how far ahead of its arrival a BSD stamp, which has no
// year, is taken to be: a time later than that is last year's. Gear
// clocks months behind (reset at boot, no NTP) are common, weeks ahead
// rare.
const maxAhead = 31 * 24 * time.Hour

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
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

func allUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isUpper(s[i]) {
			return false
		}
	}
	return true
}
func isLower(c byte) bool { return 'a' <= c && c <= 'z' }

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

// monthNumber is 1 to 12 for "Jan" to "Dec", else 0.
func monthNumber(s string) int {
	switch s {
	case "Jan":
		return 1
	case "Feb":
		return 2
	case "Mar":
		return 3
	case "Apr":
		return 4
	case "May":
		return 5
	case "Jun":
		return 6
	case "Jul":
		return 7
	case "Aug":
		return 8
	case "Sep":
		return 9
	case "Oct":
		return 10
	case "Nov":
		return 11
	case "Dec":
		return 12
	}
	return 0
}

// monthDay reads "Jan _2" at s[i:]: a capitalised three-letter word, one
// or more spaces and a day of one or two digits. It returns the index
// after the day; month is 0 for a word that is no month (a parse error
// later, as time.Parse would give).
func monthDay(s string, i int, st *stamp) (int, bool) {
	if i+3 > len(s) || !isUpper(s[i]) || !isLower(s[i+1]) || !isLower(s[i+2]) {
		return 0, false
	}
	st.month = monthNumber(s[i : i+3])
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
// part of an NX-OS one after its year; also Comware's ":123" milliseconds.
func scanBSD(s string, i int, st *stamp) (int, bool) {
	i, ok := monthDay(s, i, st)
	if !ok {
		return 0, false
	}
	return scanBSDTime(s, i, st)
}

// scanBSDTime reads " 15:04:05[.123]" at s[i:], after a BSD stamp's
// month and day.
func scanBSDTime(s string, i int, st *stamp) (int, bool) {
	var ok bool
	if !literal(s, i, ' ') {
		return 0, false
	}
	if i, ok = clock(s, i+1, st); !ok {
		return 0, false
	}
	if ms, ok := digits(s, i+1, 3); ok && literal(s, i, ':') && !(i+4 < len(s) && isDigit(s[i+4])) {
		st.nsec = ms * 1e6
		return i + 4, true
	}
	i, st.nsec = fraction(s, i)
	return i, true
}

// comwareYear reads the " 2014" Comware writes after a BSD stamp's time,
// and returns the index after it (n when there is none).
func comwareYear(s string, n int, st *stamp) int {
	year, ok := digits(s, n+1, 4)
	if !ok || !literal(s, n, ' ') || year < 1970 || n+5 < len(s) && s[n+5] != ' ' {
		return n
	}
	st.kind = "asa" // a date with its year
	st.year = year
	return n + 5
}

// scanASAYear reads " 2026 10:00:03[.123]" at s[i:], after an ASA
// stamp's month and day.
func scanASAYear(s string, i int, st *stamp) (int, bool) {
	var ok bool
	if !literal(s, i, ' ') || !literal(s, i+5, ' ') {
		return 0, false
	}
	if st.year, ok = digits(s, i+1, 4); !ok {
		return 0, false
	}
	if i, ok = clock(s, i+6, st); !ok {
		return 0, false
	}
	i, st.nsec = fraction(s, i)
	return i, true
}

func scanNXOS(s string, st *stamp) (int, bool) {
	var ok bool
	if st.year, ok = digits(s, 0, 4); !ok || !literal(s, 4, ' ') {
		return 0, false
	}
	return scanBSD(s, 5, st)
}

// scanISO reads an RFC 3339 timestamp, or one with a space for the T or
// without an offset (then local to the sender).
func scanISO(s string, st *stamp) (int, bool) {
	var ok [6]bool
	st.year, ok[0] = digits(s, 0, 4)
	st.month, ok[1] = digits(s, 5, 2)
	st.day, ok[2] = digits(s, 8, 2)
	if !ok[0] || !ok[1] || !ok[2] || !literal(s, 4, '-') || !literal(s, 7, '-') || !literal(s, 10, 'T') && !literal(s, 10, ' ') {
		return 0, false
	}
	i, good := clock(s, 11, st)
	if !good {
		return 0, false
	}
	if st.month > 12 {
		st.month = 0 // no month: refused by time
	}
	i, st.nsec = fraction(s, i)
	if literal(s, i, 'Z') {
		st.hasOffset = true
		return i + 1, true
	}
	if k, off, ok := scanOffset(s, i, false); ok {
		st.offset, st.hasOffset = off, true
		return k, true
	}
	return i, true
}

// scanOffset reads a UTC offset at s[i:]: +01:00, -0800 or +08; loose,
// as a zone name carries it ("UTC+1", "UTC+07:30"), also one-digit hours,
// and a colon not followed by minutes ends it. It returns the index after
// it and the offset in seconds.
func scanOffset(s string, i int, loose bool) (end, offset int, ok bool) {
	if !literal(s, i, '+') && !literal(s, i, '-') {
		return 0, 0, false
	}
	end, h := i+1, 0
	for end < len(s) && end < i+3 && isDigit(s[end]) {
		h = h*10 + int(s[end]-'0')
		end++
	}
	if end == i+1 || !loose && end != i+3 {
		return 0, 0, false
	}
	m := 0
	if v, good := digits(s, end+1, 2); good && literal(s, end, ':') {
		m, end = v, end+3
	} else if literal(s, end, ':') && !loose {
		return 0, 0, false
	} else if v, good := digits(s, end, 2); good && !loose {
		m, end = v, end+2
	}
	if h > 23 || m > 59 || end < len(s) && isDigit(s[end]) {
		return 0, 0, false
	}
	offset = h*3600 + m*60
	if s[i] == '-' {
		offset = -offset
	}
	return end, offset, true
}

// scanUS reads "01/02/2006 15:04:05[.00]": month, day, year.
func scanUS(s string, st *stamp) (int, bool) {
	var ok [3]bool
	st.month, ok[0] = digits(s, 0, 2)
	st.day, ok[1] = digits(s, 3, 2)
	st.year, ok[2] = digits(s, 6, 4)
	if !ok[0] || !ok[1] || !ok[2] || !literal(s, 2, '/') || !literal(s, 5, '/') || !literal(s, 10, ' ') {
		return 0, false
	}
	if st.month > 12 {
		st.month = 0
	}
	i, good := clock(s, 11, st)
	if !good {
		return 0, false
	}
	i, st.nsec = fraction(s, i)
	return i, true
}

// scanLooseDate reads Huawei's "2018-7-23 01:00:34.270.1": a date
// with one or two digits for month and day, a space, the time, and
// fractions, of which the first counts.
func scanLooseDate(s string, st *stamp) (int, bool) {
	var ok bool
	if st.year, ok = digits(s, 0, 4); !ok || !literal(s, 4, '-') {
		return 0, false
	}
	i := 5
	for _, f := range []*int{&st.month, &st.day} {
		n, j := 0, i
		for j < len(s) && j < i+2 && isDigit(s[j]) {
			n = n*10 + int(s[j]-'0')
			j++
		}
		if j == i {
			return 0, false
		}
		*f, i = n, j+1
		if f == &st.month && !literal(s, j, '-') || f == &st.day && !literal(s, j, ' ') {
			return 0, false
		}
	}
	if st.month > 12 {
		st.month = 0
	}
	i, good := clock(s, i, st)
	if !good {
		return 0, false
	}
	i, st.nsec = fraction(s, i)
	for {
		end, _ := fraction(s, i)
		if end == i {
			return i, true
		}
		i = end
	}
}

// scanUptime reads a Cisco uptime stamp: "23:07:13[.123]" (hours,
// minutes, seconds since boot) or units, "1d02h", "2y10w", "3w5d",
// followed by ':' as Cisco writes it.
func scanUptime(s string, st *stamp) (int, bool) {
	if i, ok := clock(s, 0, st); ok && !(i < len(s) && (s[i] == ':' && i+1 < len(s) && isDigit(s[i+1]))) {
		i, nsec := fraction(s, i)
		st.uptime = time.Duration(st.hour)*time.Hour + time.Duration(st.minute)*time.Minute +
			time.Duration(st.second)*time.Second + time.Duration(nsec)
		st.hour, st.minute, st.second = 0, 0, 0
		return i, true
	}
	var d time.Duration
	i, groups := 0, 0
	for i < len(s) && isDigit(s[i]) {
		j, v := i, 0
		for j < len(s) && isDigit(s[j]) && j-i < 4 {
			v = v*10 + int(s[j]-'0')
			j++
		}
		if j >= len(s) {
			return 0, false
		}
		unit, ok := uptimeUnits[s[j]]
		if !ok {
			return 0, false
		}
		d += time.Duration(v) * unit
		i, groups = j+1, groups+1
	}
	if groups < 2 || !literal(s, i, ':') {
		return 0, false
	}
	st.uptime = d
	return i, true
}

var uptimeUnits = map[byte]time.Duration{'y': 365 * 24 * time.Hour, 'w': 7 * 24 * time.Hour, 'd': 24 * time.Hour, 'h': time.Hour, 'm': time.Minute, 's': time.Second}
