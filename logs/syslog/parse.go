// Package syslog receives syslog from network gear and servers and turns
// each line into a log record, never dropping a line it cannot parse.
package syslog

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/leodido/go-syslog/v4/rfc5424"

	"github.com/kusanagi-dev/kusanagi/logs"
)

// Profile adjusts parsing for a sender (by its fixed address or CIDR).
type Profile struct {
	// Location is the time zone of timestamps that carry none (RFC 3164);
	// default UTC.
	Location *time.Location
	// HostName overrides host.name for gear that sends none or a useless one.
	HostName string
}

// RFC 3164 dialects, after the PRI: an optional Cisco sequence number, an
// optional '*' (clock not synchronized) or '.' (sync lost) mark, then one of
// the timestamp forms gear uses.
var (
	sequenceRE = regexp.MustCompile(`^(\d*): `) // NX-OS sends an empty one
	// The timestamp forms, split by their first character so that a line
	// runs the two alternatives that can match, not all four.
	stampDigitRE = regexp.MustCompile(`^([*.]?)(` +
		`(?P<iso>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))` + // rsyslog RFC 3339
		`|(?P<nxos>\d{4} [A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}(?:\.\d+)?)` + // NX-OS: 2026 Nov 25 10:00:00
		`)(?: (?P<tz>[A-Z]{2,5}))?`)
	stampLetterRE = regexp.MustCompile(`^([*.]?)(` +
		`(?P<asa>[A-Z][a-z]{2} +\d{1,2} \d{4} \d{2}:\d{2}:\d{2})` + // ASA: Nov 25 2026 10:00:00
		`|(?P<bsd>[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}(?:\.\d+)?)` + // BSD: Nov 25 10:00:00[.123]
		`)(?: (?P<tz>[A-Z]{2,5}))?`)
	tagRE       = regexp.MustCompile(`^([^\s:\[\]]{1,64})(?:\[([^\]\s]{1,32})\])?: `)
	ciscoCodeRE = regexp.MustCompile(`^%([A-Z][A-Z0-9_]*(?:-[A-Z0-9_]+)?-[0-7]-[A-Z0-9_]+):`)
	upperTagRE  = regexp.MustCompile(`^([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+):`)
)

var stampLayouts = map[string][]string{
	"iso":  {time.RFC3339Nano},
	"nxos": {"2006 Jan _2 15:04:05.999999999", "2006 Jan _2 15:04:05"},
	"asa":  {"Jan _2 2006 15:04:05"},
	"bsd":  {"Jan _2 15:04:05.999999999", "Jan _2 15:04:05"},
}

// Parse turns one syslog line from src, received at now, into a record.
// A line that does not parse is kept whole as the message, tagged in
// event.outcome, never dropped.
func Parse(line []byte, src netip.Addr, now time.Time, p Profile) logs.Record {
	raw := strings.TrimRight(string(line), "\r\n\x00")
	rec := logs.Record{Timestamp: now, Original: raw, Message: raw, HostIP: src.Unmap().String(), Fields: map[string]string{}}
	if p.HostName != "" {
		rec.HostName = p.HostName
	}
	rest, ok := parsePRI(raw, &rec)
	if !ok {
		rec.Fields["event.outcome"] = "parse_error: no <PRI>"
		return rec
	}
	if strings.HasPrefix(rest, "1 ") {
		parse5424(raw, &rec)
	} else {
		parse3164(rest, now, p, &rec)
	}
	if p.HostName != "" {
		rec.HostName = p.HostName
	}
	// rsyslog keeps the space after the tag in the message it forwards.
	rec.Message = strings.TrimLeft(rec.Message, " ")
	setEventCode(&rec)
	return rec
}

func parsePRI(s string, rec *logs.Record) (string, bool) {
	if !strings.HasPrefix(s, "<") {
		return s, false
	}
	end := strings.IndexByte(s, '>')
	if end < 2 || end > 4 {
		return s, false
	}
	pri, err := strconv.Atoi(s[1:end])
	if err != nil || pri < 0 || pri > 191 {
		return s, false
	}
	rec.Fields["log.syslog.priority"] = strconv.Itoa(pri)
	rec.Fields["log.syslog.facility.code"] = strconv.Itoa(pri / 8)
	rec.Fields["log.syslog.severity.code"] = strconv.Itoa(pri % 8)
	return s[end+1:], true
}

func parse5424(raw string, rec *logs.Record) {
	m, err := rfc5424.NewParser(rfc5424.WithBestEffort()).Parse([]byte(raw))
	if m == nil {
		rec.Fields["event.outcome"] = "parse_error: " + errString(err)
		return
	}
	sm := m.(*rfc5424.SyslogMessage)
	if err != nil {
		rec.Fields["event.outcome"] = "parse_error: " + err.Error()
	}
	rec.Fields["log.syslog.version"] = "1"
	if sm.Timestamp != nil {
		rec.Timestamp = *sm.Timestamp
	}
	if sm.Hostname != nil {
		rec.HostName = *sm.Hostname
	}
	setField(rec, "log.syslog.appname", sm.Appname)
	setField(rec, "log.syslog.procid", sm.ProcID)
	setField(rec, "log.syslog.msgid", sm.MsgID)
	if sm.StructuredData != nil {
		for id, params := range *sm.StructuredData {
			for k, v := range params {
				rec.Fields["log.syslog.structured_data."+id+"."+k] = v
			}
		}
	}
	if sm.Message != nil {
		rec.Message = *sm.Message
	} else if err == nil {
		rec.Message = ""
	}
}

func parse3164(rest string, now time.Time, p Profile, rec *logs.Record) {
	loc := p.Location
	if loc == nil {
		loc = time.UTC
	}
	if m := findSequence(rest); m != nil {
		if m[1] != "" {
			rec.Fields["event.sequence"] = m[1]
		}
		rest = rest[len(m[0]):]
	}
	stampRE := stampFor(rest)
	var m []int
	if stampRE != nil {
		m = stampRE.FindStringSubmatchIndex(rest)
	}
	if m == nil {
		// No timestamp: everything after the PRI is the message.
		rec.Message = strings.TrimSpace(rest)
		rec.Fields["event.outcome"] = "parse_error: no timestamp"
		return
	}
	names := stampRE.SubexpNames()
	var kind, stamp, tz string
	for i, n := range names {
		if n == "" || m[2*i] < 0 {
			continue
		}
		switch n {
		case "tz":
			tz = rest[m[2*i]:m[2*i+1]]
		default:
			kind, stamp = n, rest[m[2*i]:m[2*i+1]]
		}
	}
	if mark := rest[m[2]:m[3]]; mark != "" {
		rec.Fields["log.syslog.clock"] = map[string]string{"*": "unsynchronized", ".": "sync_lost"}[mark]
	}
	rest = rest[m[1]:]
	if tz != "" {
		if l, ok := zoneByAbbrev(tz); ok {
			loc = l
		} else {
			// Not a zone after all (a short hostname): give it back.
			rest = " " + tz + rest
		}
	}
	if ts, ok := parseStamp(kind, stamp, loc, now); ok {
		rec.Timestamp = ts
	} else {
		rec.Fields["event.outcome"] = "parse_error: timestamp " + strconv.Quote(stamp)
	}
	switch {
	case strings.HasPrefix(rest, ": "):
		// Cisco without a hostname: "...10:00:00.123: %LINK-3-UPDOWN: ..."
		rest = rest[2:]
	case strings.HasPrefix(rest, " "):
		rest = rest[1:]
		if tagRE.MatchString(rest) || isCiscoCode(rest) {
			break // a tag right away: the sender put no hostname
		}
		if i := strings.IndexByte(rest, ' '); i > 0 {
			host := strings.TrimSuffix(rest[:i], ":")
			rec.HostName = host
			rest = rest[i+1:]
			if s := findSequence(rest); s != nil && s[1] != "" { // "host 123: %LINK..."
				rec.Fields["event.sequence"] = s[1]
				rest = rest[len(s[0]):]
			}
		}
	}
	if !isCiscoCode(rest) {
		if t := tagRE.FindStringSubmatch(rest); t != nil {
			rec.Fields["log.syslog.appname"] = t[1]
			if t[2] != "" {
				rec.Fields["log.syslog.procid"] = t[2]
			}
			rest = rest[len(t[0]):]
		}
	}
	rec.Message = rest
}

// setEventCode takes the vendor's message tag: Cisco's %FACILITY-SEV-MNEMONIC
// (also ASA's %ASA-6-302013), Juniper's SNMP_TRAP_LINK_DOWN.
func setEventCode(rec *logs.Record) {
	msg := rec.Message
	if msg == "" || msg[0] != '%' && (msg[0] < 'A' || msg[0] > 'Z') {
		return // neither form can match: skip the regexps
	}
	if m := ciscoCodeRE.FindStringSubmatch(msg); m != nil {
		rec.Fields["event.code"] = m[1]
		return
	}
	if m := upperTagRE.FindStringSubmatch(msg); m != nil {
		rec.Fields["event.code"] = m[1]
	}
}

// The checks below look at the first characters before running a regexp:
// most lines fail them, and the regexp engine costs microseconds per call.

// stampFor returns the timestamp regexp that can match s, or nil.
func stampFor(s string) *regexp.Regexp {
	if s != "" && (s[0] == '*' || s[0] == '.') {
		s = s[1:]
	}
	switch {
	case s == "":
		return nil
	case s[0] >= '0' && s[0] <= '9':
		return stampDigitRE
	case s[0] >= 'A' && s[0] <= 'Z':
		return stampLetterRE
	}
	return nil
}

// findSequence is sequenceRE.FindStringSubmatch for lines that can hold one.
func findSequence(s string) []string {
	if s == "" || s[0] != ':' && (s[0] < '0' || s[0] > '9') {
		return nil
	}
	return sequenceRE.FindStringSubmatch(s)
}

func isCiscoCode(s string) bool {
	return strings.HasPrefix(s, "%") && ciscoCodeRE.MatchString(s)
}

func parseStamp(kind, s string, loc *time.Location, now time.Time) (time.Time, bool) {
	for _, layout := range stampLayouts[kind] {
		var ts time.Time
		var err error
		if kind == "iso" {
			ts, err = time.Parse(layout, s)
		} else {
			ts, err = time.ParseInLocation(layout, s, loc)
		}
		if err != nil {
			continue
		}
		if kind == "bsd" {
			// No year: this year, or last year for a December line read
			// in January.
			ts = time.Date(now.In(loc).Year(), ts.Month(), ts.Day(), ts.Hour(), ts.Minute(), ts.Second(), ts.Nanosecond(), loc)
			if ts.After(now.Add(48 * time.Hour)) {
				ts = ts.AddDate(-1, 0, 0)
			}
		}
		return ts, true
	}
	return time.Time{}, false
}

// zoneByAbbrev knows the abbreviations gear prints; others are ambiguous.
func zoneByAbbrev(s string) (*time.Location, bool) {
	switch s {
	case "UTC", "GMT", "Z":
		return time.UTC, true
	}
	return nil, false
}

func setField(rec *logs.Record, name string, v *string) {
	if v != nil && *v != "" {
		rec.Fields[name] = *v
	}
}

func errString(err error) string {
	if err == nil {
		return "unknown"
	}
	return err.Error()
}
