// Package syslog receives syslog from network gear and servers and turns
// each line into a log record, never dropping a line it cannot parse.
package syslog

import (
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/leodido/go-syslog/v4"
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

// Parse turns one syslog line from src, received at now, into a record.
// A line that does not parse is kept whole as the message, tagged in
// event.outcome, never dropped.
func Parse(line []byte, src netip.Addr, now time.Time, p Profile) logs.Record {
	var ps parsed
	parseInto(&ps, string(line), line, src.Unmap().String(), now, p)
	return ps.record()
}

// parseInto parses line into ps, which it resets. text is line as a
// string: a copy, or for a caller that encodes the record before line's
// buffer is reused, the same bytes (unsafe.String), so that the record's
// strings cost nothing to make.
func parseInto(ps *parsed, text string, line []byte, hostIP string, now time.Time, p Profile) {
	raw := strings.TrimRight(text, "\r\n\x00")
	ps.reset(logs.Record{Timestamp: now, Original: raw, Message: raw, HostIP: hostIP})
	rec := &ps.rec
	if p.HostName != "" {
		rec.HostName = p.HostName
	}
	rest, ok := parsePRI(raw, ps)
	if !ok {
		ps.set("event.outcome", "parse_error: no <PRI>")
		return
	}
	if strings.HasPrefix(rest, "1 ") {
		parse5424(line[:len(raw)], ps) // the parser copies what it keeps
	} else {
		parse3164(rest, now, p, ps)
	}
	if p.HostName != "" {
		rec.HostName = p.HostName
	}
	// rsyslog keeps the space after the tag in the message it forwards.
	rec.Message = strings.TrimLeft(rec.Message, " ")
	setEventCode(ps)
}

func parsePRI(s string, ps *parsed) (string, bool) {
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
	ps.set("log.syslog.priority", decimals[pri])
	ps.set("log.syslog.facility.code", decimals[pri/8])
	ps.set("log.syslog.severity.code", decimals[pri%8])
	return s[end+1:], true
}

// decimals are the numbers a PRI holds, written out once rather than for
// every line.
var decimals = func() (d [192]string) {
	for i := range d {
		d[i] = strconv.Itoa(i)
	}
	return d
}()

// parsers5424 are reused rather than made, with their state machine,
// for every line.
var parsers5424 = sync.Pool{New: func() any { return rfc5424.NewParser(rfc5424.WithBestEffort()) }}

// parse5424 parses line, which it does not keep: the parser copies what
// it returns.
func parse5424(line []byte, ps *parsed) {
	rec := &ps.rec
	parser := parsers5424.Get().(syslog.Machine)
	m, err := parser.Parse(line)
	parsers5424.Put(parser)
	if m == nil {
		ps.set("event.outcome", "parse_error: "+errString(err))
		return
	}
	sm := m.(*rfc5424.SyslogMessage)
	if err != nil {
		ps.set("event.outcome", "parse_error: "+err.Error())
	}
	ps.set("log.syslog.version", "1")
	if sm.Timestamp != nil {
		rec.Timestamp = *sm.Timestamp
	}
	if sm.Hostname != nil {
		rec.HostName = *sm.Hostname
	}
	setField(ps, "log.syslog.appname", sm.Appname)
	setField(ps, "log.syslog.procid", sm.ProcID)
	setField(ps, "log.syslog.msgid", sm.MsgID)
	if sm.StructuredData != nil {
		for id, params := range *sm.StructuredData {
			for k, v := range params {
				ps.set("log.syslog.structured_data."+id+"."+k, v)
			}
		}
	}
	if sm.Message != nil {
		rec.Message = *sm.Message
	} else if err == nil {
		rec.Message = ""
	}
}

func parse3164(rest string, now time.Time, p Profile, ps *parsed) {
	rec := &ps.rec
	loc := p.Location
	if loc == nil {
		loc = time.UTC
	}
	// RFC 3164 dialects, after the PRI: an optional Cisco sequence number,
	// an optional '*' (clock not synchronized) or '.' (sync lost) mark, then
	// one of the timestamp forms gear uses (scanStamp), a hostname, a tag
	// (scanTag) or a vendor's message code.
	if seq, n, ok := scanSequence(rest); ok {
		if seq != "" {
			ps.set("event.sequence", seq)
		}
		rest = rest[n:]
	}
	st, ok := scanStamp(rest)
	if !ok {
		// No timestamp: everything after the PRI is the message.
		rec.Message = strings.TrimSpace(rest)
		ps.set("event.outcome", "parse_error: no timestamp")
		return
	}
	switch st.mark {
	case "*":
		ps.set("log.syslog.clock", "unsynchronized")
	case ".":
		ps.set("log.syslog.clock", "sync_lost")
	}
	rest = rest[st.end:]
	if st.tz != "" {
		if l, ok := zoneByAbbrev(st.tz); ok {
			loc = l
		} else {
			// Not a zone after all (a short hostname): give it back.
			rest = " " + st.tz + rest
		}
	}
	if ts, ok := st.time(loc, now); ok {
		rec.Timestamp = ts
	} else {
		ps.set("event.outcome", "parse_error: timestamp "+strconv.Quote(st.text))
	}
	var h head
	read := false // h is what rest starts with
	switch {
	case strings.HasPrefix(rest, ": "):
		// Cisco without a hostname: "...10:00:00.123: %LINK-3-UPDOWN: ..."
		rest = rest[2:]
	case strings.HasPrefix(rest, " "):
		rest = rest[1:]
		if h, read = readHead(rest), true; h.code != "" || h.tag {
			break // a tag right away: the sender put no hostname
		}
		if i := strings.IndexByte(rest, ' '); i > 0 {
			host := strings.TrimSuffix(rest[:i], ":")
			rec.HostName = host
			rest, read = rest[i+1:], false
			if seq, n, ok := scanSequence(rest); ok && seq != "" { // "host 123: %LINK..."
				ps.set("event.sequence", seq)
				rest = rest[n:]
			}
		}
	}
	if !read {
		h = readHead(rest)
	}
	if h.code != "" {
		// The message starts with it: setEventCode has nothing to look for.
		ps.set("event.code", h.code)
	} else if h.tag {
		ps.set("log.syslog.appname", h.app)
		if h.pid != "" {
			ps.set("log.syslog.procid", h.pid)
		}
		rest = rest[h.n:]
	}
	rec.Message = rest
}

// head is what an RFC 3164 message starts with: a Cisco code, or else a
// tag (n bytes of it) or neither.
type head struct {
	code     string
	app, pid string
	n        int
	tag      bool
}

func readHead(s string) head {
	if code := ciscoCode(s); code != "" {
		return head{code: code}
	}
	app, pid, n, ok := scanTag(s)
	return head{app: app, pid: pid, n: n, tag: ok}
}

// setEventCode takes the vendor's message tag: Cisco's %FACILITY-SEV-MNEMONIC
// (also ASA's %ASA-6-302013), Juniper's SNMP_TRAP_LINK_DOWN.
func setEventCode(ps *parsed) {
	rec := &ps.rec
	if _, found := ps.get("event.code"); found {
		return
	}
	if code := ciscoCode(rec.Message); code != "" {
		ps.set("event.code", code)
	} else if tag := upperTag(rec.Message); tag != "" {
		ps.set("event.code", tag)
	}
}

// zoneByAbbrev knows the abbreviations gear prints; others are ambiguous.
func zoneByAbbrev(s string) (*time.Location, bool) {
	switch s {
	case "UTC", "GMT", "Z":
		return time.UTC, true
	}
	return nil, false
}

func setField(ps *parsed, name string, v *string) {
	if v != nil && *v != "" {
		ps.set(name, *v)
	}
}

func errString(err error) string {
	if err == nil {
		return "unknown"
	}
	return err.Error()
}
