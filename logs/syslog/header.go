package syslog

import (
	"strconv"
	"strings"
	"time"
)

// An RFC 3164 header, as gear writes it, is a run of optional parts in
// an order each vendor chooses: sequence numbers (Cisco "52: ", IOS-XE
// "3275: 003293: ", NX-OS ": "), Cisco's origin host ("test-switch1: "),
// an IOS-XR node ("RP/0/RSP0/CPU0:"), a clock mark and a timestamp with a
// zone or offset, a hostname, and again any of these when a relay put its
// own header before the device's. None of them is required and a part
// that cannot be read is not a reason to stop: whatever the header holds,
// the vendor's tag after it is found.

// header reads one line's header into ps.
type header struct {
	ps      *parsed
	profile Profile // a copy: a pointer to the caller's sends it to the heap
	now     time.Time
	rules   dialectRules

	stamped bool // a timestamp was read
	hosted  bool // a hostname was read
	colon   bool // the timestamp ended in ':', as Cisco's do: no hostname follows
	seqs    int  // sequence numbers read
	st      stamp
}

// maxPrefixParts bounds the parts prefix reads: a line of digits and
// colons is not read part by part forever.
const maxPrefixParts = 8

// prefix reads the parts that may come before the hostname or the tag,
// and returns the rest.
func (h *header) prefix(s string) string {
	for range maxPrefixParts {
		s = strings.TrimLeft(s, " ")
		if seq, n, ok := scanSequence(s); ok && h.seqs < 2 && !h.stamped {
			h.sequence(seq)
			s = s[n:]
			continue
		}
		if !h.stamped {
			if n, ok := h.stamp(s); ok {
				s = s[n:]
				continue
			}
			// Comware's info-center form: "%Jun 26 17:08:35:809 2008 Sysname ...".
			if strings.HasPrefix(s, "%") && len(s) > 1 && isUpper(s[1]) {
				if n, ok := h.stamp(s[1:]); ok {
					s = s[1+n:]
					continue
				}
			}
			// A weekday before the date: "Sun, 2004-03-28 13:52:46".
			if n := weekday(s); n > 0 && startsStamp(s[n:]) {
				s = s[n:]
				continue
			}
		}
		// A relay wrote its header before the device's PRI.
		if strings.HasPrefix(s, "<") {
			if rest, ok := parsePRI(s, h.ps); ok {
				s = rest
				continue
			}
		}
		if node, n, ok := scanNode(s); ok {
			h.ps.set("cisco.node", node)
			s = s[n:]
			continue
		}
		// A Cisco WLC task: "*spamApTask1: May 26 18:52:01.958: ...".
		if !h.stamped && strings.HasPrefix(s, "*") {
			if i := strings.Index(s, ": "); i > 1 && isHostName(s[1:i]) && startsStamp(s[i+2:]) {
				h.ps.set("cisco.task", s[1:i])
				s = s[i+2:]
				continue
			}
		}
		if !h.hosted && !h.stamped {
			// Cisco's `logging origin-id`: "1432: test-switch1: Jun  1 12:50:26.172: ...",
			// also before a second sequence number or a WLC task; IOS-XR's
			// host before its node: "vmx01 RP/0/RSP1/CPU0:Mar 28 ...".
			if i := indexColonOrSpace(s); i > 0 && isHostName(s[:i]) {
				after := s[i+1:]
				if s[i] == ':' && strings.HasPrefix(after, " ") && startsHeader(after[1:]) ||
					s[i] == ' ' && startsNode(after) {
					h.host(s[:i])
					s = after
					continue
				}
			}
		}
		return s
	}
	return s
}

func indexColonOrSpace(s string) int {
	for i := 0; i < len(s) && i < 256; i++ {
		if s[i] == ':' || s[i] == ' ' {
			return i
		}
	}
	return -1
}

// weekday is the length of a "Sun, " at the start of s, or 0.
func weekday(s string) int {
	if len(s) < 5 || s[3] != ',' || s[4] != ' ' {
		return 0
	}
	switch s[:3] {
	case "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun":
		return 5
	}
	return 0
}

// startsHeader tells whether s starts with what follows Cisco's origin
// host: a timestamp, a sequence number and a timestamp, or a WLC task.
func startsHeader(s string) bool {
	if startsStamp(s) || startsSequenceStamp(s) {
		return true
	}
	if strings.HasPrefix(s, "*") {
		if i := strings.Index(s, ": "); i > 1 && startsStamp(s[i+2:]) {
			return true
		}
	}
	return false
}

func startsNode(s string) bool {
	_, n, ok := scanNode(s)
	return ok && startsStamp(s[n:])
}

// stamp reads a timestamp with its zone and the ':' Cisco writes after
// it, returning the bytes taken.
func (h *header) stamp(s string) (int, bool) {
	st := &h.st
	if !scanStamp(s, st) {
		return 0, false
	}
	ps := h.ps
	end := st.end
	if st.tz != "" && !st.hasOffset && !h.profile.zoneKnown(strings.ToUpper(st.tz)) {
		if strings.HasPrefix(s[st.end:], ": %") {
			// A zone of the operator's naming before Cisco's code
			// ("02.070 mng: %SEC-6-..."): kept, the time read in the
			// profile's zone.
			ps.set("log.syslog.timezone", st.tz)
		} else {
			end = st.tzAt - 1 // a short hostname after all: given back
		}
		st.tz = ""
	}
	h.stamped = true
	switch st.mark {
	case "*":
		ps.set("log.syslog.clock", "unsynchronized")
	case ".":
		ps.set("log.syslog.clock", "sync_lost")
	}
	if st.kind == "uptime" {
		ps.setInt("host.uptime", int64(st.uptime/time.Second))
	} else {
		var ts time.Time
		var good bool
		if st.tz != "" && !st.hasOffset {
			ts, good = h.profile.zoneTime(st, strings.ToUpper(st.tz), h.now)
		} else {
			ts, good = st.time(h.profile.location(), h.now)
		}
		if good {
			ps.rec.Timestamp = ts
			ps.sent = true
		} else {
			ps.set("event.outcome", "parse_error: timestamp "+strconv.Quote(st.text))
		}
	}
	// Cisco ends its header with ':' ("10:00:00.123 UTC: %LINK"), IOS-XR
	// and ASA with " : ".
	rest := s[end:]
	switch {
	case strings.HasPrefix(rest, ": ") || rest == ":":
		end++
		h.colon = true
	case strings.HasPrefix(rest, " : "):
		end += 2
	}
	return end, true
}

func (h *header) sequence(seq string) {
	h.seqs++
	if seq == "" {
		return
	}
	if _, ok := h.ps.get("event.sequence"); ok {
		h.ps.set("cisco.sequence2", seq) // IOS-XE: the second of two
		return
	}
	h.ps.set("event.sequence", seq)
}

func (h *header) host(name string) {
	h.hosted = true
	h.ps.rec.HostName = name
}

// startsStamp tells whether s starts with a timestamp, for telling a
// hostname before it.
func startsStamp(s string) bool {
	var st stamp
	return scanStamp(s, &st)
}

// isHostName tells whether s can be a hostname or an address: no spaces,
// no '%' (a vendor code), not empty.
func isHostName(s string) bool {
	if s == "" || len(s) > 255 || s[0] == '%' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == '[' || c == ']' || c == '"' || c == '=' {
			return false
		}
	}
	return true
}

// scanNode reads an IOS-XR node name and its colon, "RP/0/RSP0/CPU0:" or
// "LC/0/1/CPU0:", at the start of s.
func scanNode(s string) (node string, n int, ok bool) {
	if len(s) < 4 || !isUpper(s[0]) {
		return "", 0, false
	}
	slashes := 0
	for i := 0; i < len(s) && i < 40; i++ {
		switch c := s[i]; {
		case c == '/':
			if i == 0 || s[i-1] == '/' {
				return "", 0, false
			}
			slashes++
		case c == ':':
			if slashes < 2 || s[i-1] == '/' {
				return "", 0, false
			}
			return s[:i], i + 1, true
		case !isUpper(c) && !isDigit(c) && !isLower(c):
			return "", 0, false
		}
	}
	return "", 0, false
}

// parse3164 parses what follows the PRI of a line that is not RFC 5424
// (or the whole of a line without a PRI).
func parse3164(rest string, now time.Time, p Profile, ps *parsed) {
	h := header{ps: ps, profile: p, now: now, rules: p.dialect()}
	rest = h.prefix(rest)
	rest = strings.TrimLeft(rest, " ")
	if h.stamped && !h.hosted && h.rules.host != hostNever {
		if name, after, ok := h.hostWord(rest); ok {
			h.host(name)
			// After the host: Cisco's sequence number ("core-sw1 123: %LINK"),
			// ASA's " : ", an IOS-XR node, or the device's own header
			// behind a relay's, and the device's own hostname after it.
			h.stamped, h.colon, h.seqs = false, false, 0
			// A lower-case word starts none of the parts (a tag, mostly):
			// no part-by-part reading for it.
			if after != "" && !isLower(after[0]) {
				rest = h.prefix(after)
			} else {
				rest = after
			}
			rest = strings.TrimPrefix(strings.TrimLeft(rest, " "), ": ")
			if h.stamped && !h.colon {
				if name, after, ok := h.hostWord(rest); ok {
					ps.set("log.syslog.hostname", name)
					rest = after
				}
			}
			h.stamped = true
		}
	}
	readBody(rest, ps)
}

// hostWord reads the hostname that follows a timestamp, unless what
// follows is already a tag or a vendor code: gear without a hostname
// ("10:00:06 kernel: eth0 down", "10:00:00: %LINK-3-UPDOWN").
func (h *header) hostWord(s string) (name, after string, ok bool) {
	end := strings.IndexByte(s, ' ')
	if end <= 0 {
		return "", s, false
	}
	word := s[:end]
	if h.rules.host != hostAlways {
		if h.colon || word[0] == '%' || vendorCodeAt(s) || strings.HasPrefix(s, "last message repeated ") {
			return "", s, false
		}
		if _, _, n, ok := scanTag(s); ok {
			// A hostname with a colon: before the device's own header
			// ("host: Jun  1 ..."), a vendor code ("asa1: %ASA-6-302013"),
			// or UniFi's model,MAC,version before a tag
			// ("U7PG2,788a2056b181,v4.0.66.10832: logread[5495]:"); else a tag.
			next := strings.TrimLeft(s[n:], " ")
			_, _, _, tagged := scanTag(next)
			if !startsHeader(next) && !vendorCodeAt(next) && !(tagged && strings.Contains(word, ",")) {
				return "", s, false
			}
		}
		// Not a hostname: RFC 5424's nil "-", a PAN-OS CSV line's first
		// fields ("1,2012/04/08"), EXOS's "<Info:vlan.msgs...>".
		if host := strings.TrimSuffix(word, ":"); !isHostName(host) || host == "-" || isDigit(host[0]) && strings.Contains(host, ",") || host[0] == '<' {
			return "", s, false
		}
	}
	name, after = strings.TrimSuffix(word, ":"), s[end+1:]
	// A Comware sysname with spaces, "3Com Baseline Switch %%10IFNET/4/...":
	// the words before the code are the name's.
	if i := strings.IndexByte(after[:min(len(after), 66)], '%'); i > 1 && after[i-1] == ' ' && literal(after, i+1, '%') && !strings.ContainsAny(after[:i-1], ":()[]=") && huaweiCode(after[i:]) != "" {
		name, after = name+" "+after[:i-1], after[i:]
	}
	return name, after, true
}

// startsSequenceStamp tells whether s is a sequence number and then a
// timestamp ("123: *Jun 12 ...").
func startsSequenceStamp(s string) bool {
	_, n, ok := scanSequence(s)
	return ok && startsStamp(strings.TrimLeft(s[n:], " "))
}
