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
	// Zones are zone abbreviations the sender's gear prints and the IANA
	// database does not know, or knows for another offset (see zones.go).
	Zones ZoneTable
	// HostName overrides host.name for gear that sends none or a useless one.
	HostName string
	// Dialect names the sender's header form where a line alone cannot
	// tell (see Dialects); "" guesses.
	Dialect string
}

func (p *Profile) location() *time.Location {
	if p.Location == nil {
		return time.UTC
	}
	return p.Location
}

// ClockSkewThreshold is how far a line's own time may be from its
// arrival before the line is marked (SkewField) and counted as its
// sender's clock skew.
const ClockSkewThreshold = time.Minute

// SkewField holds, on a line whose own time is more than
// ClockSkewThreshold from its arrival, the difference in whole seconds:
// arrival minus the sender's time, positive for a clock behind.
const SkewField = "log.syslog.clock_skew_seconds"

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
	ps.reset(logs.Record{Timestamp: now, Received: now, Original: raw, Message: raw, HostIP: hostIP})
	rec := &ps.rec
	ps.loc = p.location()
	rest, ok := parsePRI(raw, ps)
	if ok && isVersion5424(rest) {
		parse5424(line[:len(raw)], rest, ps) // the parser copies what it keeps
	} else {
		// A line without a PRI (NX-OS's, a relay's) is read all the same.
		parse3164(rest, now, p, ps)
	}
	if p.HostName != "" {
		rec.HostName = p.HostName
	}
	// rsyslog keeps the space after the tag in the message it forwards.
	rec.Message = strings.TrimLeft(rec.Message, " ")
	readMessage(ps)
	if !ok && !ps.sent && ps.rec.HostName == "" {
		if _, coded := ps.get("event.code"); !coded {
			// Nothing of a header at all: stored whole, and counted.
			ps.set("event.outcome", "parse_error: no <PRI>")
		}
	}
	if ps.sent {
		if skew := now.Sub(rec.Timestamp); skew > ClockSkewThreshold || skew < -ClockSkewThreshold {
			ps.skew = skew
			ps.setInt(SkewField, int64(skew/time.Second))
		}
	}
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
func parse5424(line []byte, rest string, ps *parsed) {
	rec := &ps.rec
	parser := parsers5424.Get().(syslog.Machine)
	m, err := parser.Parse(line)
	parsers5424.Put(parser)
	if m == nil || err != nil && m.(*rfc5424.SyslogMessage).Hostname == nil {
		// The parser stops at the first field it refuses (a leap second,
		// version 0): the header is read field by field instead.
		if !header5424(rest, ps) {
			ps.set("event.outcome", "parse_error: "+errString(err))
		}
		return
	}
	sm := m.(*rfc5424.SyslogMessage)
	if err != nil {
		ps.set("event.outcome", "parse_error: "+err.Error())
	}
	ps.set("log.syslog.version", "1")
	if sm.Timestamp != nil {
		rec.Timestamp = *sm.Timestamp
		ps.sent = true
	}
	if sm.Hostname != nil {
		rec.HostName = *sm.Hostname
	}
	setField(ps, "log.syslog.appname", sm.Appname)
	setField(ps, "log.syslog.procid", sm.ProcID)
	setField(ps, "log.syslog.msgid", sm.MsgID)
	if sm.MsgID != nil && upperTag(*sm.MsgID+":") != "" {
		ps.set("event.code", *sm.MsgID) // Junos structured: UI_COMMIT
	}
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

// isVersion5424 tells whether rest, what follows the PRI, starts as an
// RFC 5424 header: a version (1, or 0 as some senders write) and a
// timestamp or the nil value.
func isVersion5424(rest string) bool {
	if strings.HasPrefix(rest, "1 ") {
		return true
	}
	if rest == "" || !isDigit(rest[0]) {
		return false
	}
	v, after, ok := strings.Cut(rest, " ")
	return ok && len(v) <= 2 && v != "" && strings.Trim(v, "0123456789") == "" &&
		(strings.HasPrefix(after, "- ") || len(after) > 10 && after[4] == '-' && after[10] == 'T')
}

// header5424 reads an RFC 5424 header the parser refused, field by
// field: VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID, then
// structured data (kept in the message when it is not nil) and the
// message. A leap second (23:59:60), which Go's time cannot hold, is
// read as 23:59:59.
func header5424(rest string, ps *parsed) bool {
	f := strings.SplitN(rest, " ", 7)
	if len(f) < 7 {
		return false
	}
	ps.set("log.syslog.version", f[0])
	if ts := f[1]; ts != "-" {
		leap := len(ts) > 19 && ts[17:19] == "60"
		if leap {
			ts = ts[:17] + "59" + ts[19:]
		}
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			ps.rec.Timestamp, ps.sent = t, true
		}
	}
	if f[2] != "-" {
		ps.rec.HostName = f[2]
	}
	for i, name := range []string{"log.syslog.appname", "log.syslog.procid", "log.syslog.msgid"} {
		if v := f[3+i]; v != "-" {
			ps.set(name, v)
		}
	}
	msg := f[6]
	if after, ok := strings.CutPrefix(msg, "- "); ok || msg == "-" {
		msg = after
	}
	ps.rec.Message = msg
	return true
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
