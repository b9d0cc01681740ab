package syslog

import (
	"strconv"
	"strings"
	"time"
)

// The readers of what vendors write in a message (Nokia, Cisco ISE,
// Fortinet, Palo Alto, repeated-message notices, AOS-CX, EXOS); the
// profile dialects that settle header shapes are in dialect.go.

// readNokia reads the message of a Nokia (Alcatel-Lucent) SR OS line
// after its "TMNX:" tag: "4262 Base SNMP-WARNING-linkDown-2004 [Port 1/1/2]:  Interface 1/1/2 is not operational",
// the event's sequence number, its router instance, its
// APPLICATION-SEVERITY-name-id code and its subject.
func readNokia(msg string, ps *parsed) {
	seq, rest, ok := strings.Cut(msg, " ")
	if !ok || seq == "" || strings.TrimLeft(seq, "0123456789") != "" {
		return
	}
	router, rest, ok := strings.Cut(rest, " ")
	if !ok || router == "" {
		return
	}
	end := strings.IndexAny(rest, " :")
	if end <= 0 {
		return
	}
	code := rest[:end]
	if parts := strings.Split(code, "-"); len(parts) < 4 || !isUpper(parts[0][0]) || strings.TrimLeft(parts[len(parts)-1], "0123456789") != "" {
		return
	}
	ps.set("event.sequence", seq)
	ps.set("nokia.router", router)
	ps.set("event.code", code)
	rest = rest[end:]
	if strings.HasPrefix(rest, " [") {
		if j := strings.Index(rest, "]"); j > 0 {
			ps.set("nokia.subject", rest[2:j])
		}
	}
}

// readISE reads the header Cisco ISE (and ACS) puts in its message:
// "CISE_Passed_Authentications 0000012345 1 0 2019-10-10 17:16:32.123 +02:00 0000012345 5200 NOTICE Passed-Authentication: ...",
// the category, the message's id, segments, its own time, a sequence
// number, the message code (event.code), severity and class.
func readISE(msg string, ps *parsed) {
	f := strings.SplitN(msg, " ", 12)
	ps.set("log.syslog.appname", f[0])
	if len(f) < 11 {
		return
	}
	if _, err := strconv.Atoi(f[1]); err != nil {
		return
	}
	if _, err := strconv.Atoi(f[8]); err != nil {
		return
	}
	ps.set("cisco.ise.message_id", f[1])
	ps.set("cisco.ise.segment", f[3]+"/"+f[2])
	ps.set("event.sequence", f[7])
	ps.set("event.code", f[8])
	ps.set("cisco.ise.severity", f[9])
	ps.set("cisco.ise.class", strings.TrimSuffix(f[10], ":"))
	if !ps.sent {
		if ts, err := time.Parse("2006-01-02 15:04:05.999999999 -07:00", f[4]+" "+f[5]+" "+f[6]); err == nil {
			ps.rec.Timestamp, ps.sent = ts, true
		}
	}
}

// maxPairs bounds the key=value pairs read from one line.
const maxPairs = 96

// readFortinet reads a FortiGate (FortiOS) line: key=value pairs, values
// quoted when they hold spaces. Each pair becomes fortinet.KEY; logid is
// the event.code, and date, time and tz (or eventtime) the sender's time
// when it gave none before, read in the sender's profile's zone without tz. devname stays a field of its own, as
// Elastic's Fortinet integration keeps it (observer.name): the device
// that logged, not necessarily the host the line is about.
func readFortinet(msg string, ps *parsed) {
	var date, clock, zone, eventtime string
	pairs := 0
	for s := msg; s != "" && pairs < maxPairs; {
		s = strings.TrimLeft(s, " ")
		eq := strings.IndexByte(s, '=')
		if eq <= 0 || strings.IndexByte(s[:eq], ' ') >= 0 {
			break
		}
		key := s[:eq]
		s = s[eq+1:]
		var value string
		if strings.HasPrefix(s, `"`) {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				value, s = s[1:], ""
			} else {
				value, s = s[1:1+end], s[2+end:]
			}
		} else {
			end := strings.IndexByte(s, ' ')
			if end < 0 {
				end = len(s)
			}
			value, s = s[:end], s[end:]
		}
		pairs++
		ps.set("fortinet."+key, value)
		switch key {
		case "logid":
			ps.set("event.code", value)
		case "date":
			date = value
		case "time":
			clock = value
		case "tz":
			zone = value
		case "eventtime":
			eventtime = value
		}
	}
	if ps.sent {
		return
	}
	if date != "" && clock != "" {
		layout, text := "2006-01-02 15:04:05", date+" "+clock
		if zone != "" {
			if _, err := ParseOffset(zone); err == nil {
				layout, text = layout+" -0700", text+" "+strings.ReplaceAll(zone, ":", "")
			}
		}
		if ts, err := time.ParseInLocation(layout, text, ps.loc); err == nil {
			ps.rec.Timestamp, ps.sent = ts, true
			return
		}
	}
	if n, err := strconv.ParseInt(eventtime, 10, 64); err == nil && n > 0 {
		// Seconds, or nanoseconds in FortiOS 6.2 and later.
		if n > 1e15 {
			ps.rec.Timestamp = time.Unix(0, n).UTC()
		} else {
			ps.rec.Timestamp = time.Unix(n, 0).UTC()
		}
		ps.sent = true
	}
}

// paloAltoTypes are the log types of PAN-OS's CSV syslog format, its
// fourth field.
var paloAltoTypes = map[string]bool{
	"TRAFFIC": true, "THREAT": true, "SYSTEM": true, "CONFIG": true, "HIPMATCH": true, "GLOBALPROTECT": true,
	"USERID": true, "DECRYPTION": true, "TUNNEL": true, "AUTH": true, "CORRELATION": true, "IPTAG": true,
	"SCTP": true, "GTP": true, "URL": true, "DATA": true, "WILDFIRE": true,
}

// readPaloAlto reads the first fields of a PAN-OS CSV line:
// "1,2019/09/26 09:36:06,012801096514,TRAFFIC,end,2049,...": the time
// the firewall received it, its serial number, the log type and subtype.
func readPaloAlto(msg string, ps *parsed) {
	var f [5]string
	rest := msg
	for i := range f {
		var ok bool
		f[i], rest, ok = strings.Cut(rest, ",")
		if !ok && i < len(f)-1 {
			return
		}
	}
	if !paloAltoTypes[f[3]] {
		return
	}
	ps.set("panw.type", f[3])
	ps.set("panw.subtype", f[4])
	ps.set("panw.serial", f[2])
	if !ps.sent {
		if ts, err := time.ParseInLocation("2006/01/02 15:04:05", f[1], ps.loc); err == nil {
			ps.rec.Timestamp, ps.sent = ts, true
		}
	}
}

// readRepeated reads syslogd's notice that it left out identical lines,
// "last message repeated 3 times" (BSD, sysklogd) or rsyslog's
// "message repeated 3 times: [ ...]", into log.syslog.repeated.
func readRepeated(msg string, ps *parsed) {
	if msg == "" || msg[0] != 'l' && msg[0] != 'm' && msg[0] != '%' {
		return
	}
	if code := huaweiCode(msg); code != "" {
		// Huawei's "%%01INFO/6/SUPPRESS_LOG(l)[18]:Last message repeated 2 times."
		msg = strings.TrimLeft(msg[strings.IndexByte(msg, ':')+1:], " ")
		if len(msg) > 0 && msg[0] == 'L' {
			msg = "l" + msg[1:]
		}
	}
	rest, ok := strings.CutPrefix(msg, "last message repeated ")
	if !ok {
		if rest, ok = strings.CutPrefix(msg, "message repeated "); !ok {
			return
		}
	}
	n, after, ok := strings.Cut(rest, " ")
	if !ok || n == "" || strings.TrimLeft(n, "0123456789") != "" || !strings.HasPrefix(after, "time") {
		return
	}
	ps.set("log.syslog.repeated", n)
}

// readArubaCX reads the event of an HPE Aruba AOS-CX line:
// "Event|403|LOG_INFO|AMM|1/1|Link status for interface 1/1/38 is up",
// its id (event.code), severity, role and module.
func readArubaCX(msg string, ps *parsed) {
	f := strings.SplitN(msg, "|", 6)
	if len(f) < 6 || f[1] == "" || strings.Trim(f[1], "0123456789") != "" {
		return
	}
	ps.set("event.code", f[1])
	ps.set("aruba.severity", f[2])
	setNonEmpty(ps, "aruba.role", f[3])
	setNonEmpty(ps, "aruba.module", f[4])
}

// readEXOS reads the severity and condition Extreme EXOS writes first:
// "<Info:vlan.msgs.portLinkStateDown> Port 11 link down".
func readEXOS(msg string, ps *parsed) {
	end := strings.IndexByte(msg, '>')
	colon := strings.IndexByte(msg, ':')
	if end < 0 || colon < 0 || colon > end || strings.ContainsAny(msg[1:end], " ") {
		return
	}
	cond := msg[colon+1 : end]
	if !strings.Contains(cond, ".") {
		return
	}
	ps.set("event.code", cond)
	ps.set("extreme.severity", msg[1:colon])
}

func setNonEmpty(ps *parsed, name, v string) {
	if v != "" && v != "-" {
		ps.set(name, v)
	}
}
