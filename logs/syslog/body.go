package syslog

import (
	"strings"
)

// readBody reads what follows the header: a vendor code right away (a
// Cisco or Huawei line without a program name, which stays in the
// message), or a tag (prog[pid]: ), then the message.
func readBody(s string, ps *parsed) {
	if code := leadingCode(s); code != "" {
		ps.set("event.code", code)
	} else {
		if app, pid, n, ok := scanTag(s); ok {
			ps.set("log.syslog.appname", app)
			if pid != "" {
				ps.set("log.syslog.procid", pid)
			}
			s = s[n:]
		} else if code, app, n, ok := scanOddTag(s); ok {
			if code != "" {
				ps.set("event.code", code)
			}
			ps.set("log.syslog.appname", app)
			s = s[n:]
		}
	}
	ps.rec.Message = s
}

// scanOddTag reads the tags that are a word and something before the
// colon: ProCurve's event id and module ("03363 auth:  User ..."), a
// version after the program ("syslogd 1.4.1: restart."), Junos's PFE
// process before its tag ("fpc1 NH: hold packet ..."). n is what the
// message starts after (the PFE tag stays in it).
func scanOddTag(s string) (code, app string, n int, ok bool) {
	first, rest, found := strings.Cut(s, " ")
	if !found || first == "" || len(first) > 32 {
		return "", "", 0, false
	}
	second, _, found := strings.Cut(rest, " ")
	if !found || !strings.HasSuffix(second, ":") || len(second) < 2 {
		return "", "", 0, false
	}
	word := strings.TrimSuffix(second, ":")
	switch {
	case len(first) >= 3 && strings.Trim(first, "0123456789") == "" && isLowerWord(word):
		return first, word, len(first) + 1 + len(second), true
	case isLowerWord(first) && strings.Trim(word, "0123456789.") == "" && strings.Contains(word, "."):
		return "", first, len(first) + 1 + len(second), true
	case isLowerWord(first) && upperWord(word):
		return "", first, len(first) + 1, true
	}
	return "", "", 0, false
}

// isLowerWord is a program's name: lower-case letters and digits, a
// letter first.
func isLowerWord(s string) bool {
	if s == "" || !isLower(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isLower(s[i]) && !isDigit(s[i]) && s[i] != '-' && s[i] != '_' {
			return false
		}
	}
	return true
}

func upperWord(s string) bool {
	if s == "" || !isUpper(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isUpper(s[i]) && !isDigit(s[i]) && s[i] != '_' {
			return false
		}
	}
	return true
}

// vendorCodeAt tells whether s starts with a Cisco or Huawei message code.
func vendorCodeAt(s string) bool { return leadingCode(s) != "" }

// leadingCode is the Cisco or Huawei message code s starts with, or "".
func leadingCode(s string) string {
	if s == "" {
		return ""
	}
	if s[0] == '%' {
		if code := ciscoCode(s); code != "" {
			return code
		}
		return huaweiCode(s)
	}
	if isUpper(s[0]) {
		return huaweiCode(s)
	}
	return ""
}

// readMessage finds what the message says of itself in the form its
// vendor writes: the message code (event.code) and the fields of the
// dialects that carry them (Nokia, Cisco ISE, Fortinet, Palo Alto,
// repeated-message notices).
func readMessage(ps *parsed) {
	msg := ps.rec.Message
	if msg == "" {
		return
	}
	_, coded := ps.get("event.code")
	if !coded {
		if code := messageCode(msg); code != "" {
			ps.set("event.code", code)
			coded = true
		}
	}
	// The dialects by the first byte of what they write: one comparison
	// for a line of none of them, which is most lines.
	switch c := msg[0]; {
	case c == 'E':
		if strings.HasPrefix(msg, "Event|") {
			readArubaCX(msg, ps)
		}
	case c == '<':
		readEXOS(msg, ps)
	case c == 'C':
		if strings.HasPrefix(msg, "CISE_") || strings.HasPrefix(msg, "CSCOacs_") {
			readISE(msg, ps)
		}
	case isDigit(c):
		if app, _ := ps.get("log.syslog.appname"); app == "TMNX" {
			readNokia(msg, ps)
		} else if strings.IndexByte(msg[:min(len(msg), 40)], ',') > 0 {
			readPaloAlto(msg, ps)
		}
	case isLower(c):
		if strings.HasPrefix(msg, "date=") || startsKeyValue(msg) && strings.Contains(msg[:min(len(msg), 256)], "logid=") {
			readFortinet(msg, ps)
		} else {
			readRepeated(msg, ps)
		}
	case c == '%':
		readRepeated(msg, ps)
	}
	if !coded {
		if _, found := ps.get("event.code"); !found {
			if code := embeddedCode(msg); code != "" {
				ps.set("event.code", code)
			}
		}
	}
}

// startsKeyValue tells whether the message's first word is a key=value
// pair, as FortiOS writes its lines.
func startsKeyValue(msg string) bool {
	for i := 0; i < len(msg) && i < 32; i++ {
		switch c := msg[i]; {
		case c == '=':
			return i > 0
		case c == ' ' || c == ':' || c == ',':
			return false
		}
	}
	return false
}

// messageCode is the code the message starts with: Cisco's
// %FACILITY-SEVERITY-MNEMONIC (IOS-XR's with " :"), Huawei's and
// Comware's %%01MODULE/SEVERITY/NAME, Juniper's SNMP_TRAP_LINK_DOWN.
func messageCode(msg string) string {
	if code := ciscoCode(msg); code != "" {
		return code
	}
	if code := huaweiCode(msg); code != "" {
		return code
	}
	return upperTag(msg)
}

// embeddedCode finds a vendor code inside the first bytes of a message
// whose start is something else (a prefix a relay, a controller or a
// cluster member added: "node1.fpc0 PFE_FW_SYSLOG_IP: ...",
// "(Stack) %%10WEB/5/LOGIN: ..."), at the start of a word.
func embeddedCode(msg string) string {
	head := msg[:min(len(msg), 160)]
	for i := 1; i < len(head) && strings.IndexByte(head[i:], '%') >= 0; {
		j := strings.IndexByte(head[i:], '%')
		if j < 0 {
			break
		}
		i += j
		if c := head[i-1]; c == ' ' || c == ':' || c == ')' {
			if code := ciscoCode(msg[i:]); code != "" {
				return code
			}
			if code := huaweiCode(msg[i:]); code != "" {
				return code
			}
		}
		i++
	}
	// A Junos tag is one of the first few words, and has an underscore.
	head = msg[:min(len(msg), 128)]
	if strings.IndexByte(head, '_') < 0 {
		return ""
	}
	for i, words := 0, 0; words < 8; words++ {
		j := strings.IndexByte(head[i:], ' ')
		if j < 0 {
			return ""
		}
		i += j + 1
		if i < len(head) && isUpper(head[i]) {
			if tag := upperTag(msg[i:]); tag != "" {
				return tag
			}
		}
	}
	return ""
}

// huaweiCode is the MODULE/SEVERITY/NAME of a Huawei VRP or H3C/HPE
// Comware code at the start of s: "%%01IFNET/4/LINK_STATE(l)[0]:",
// "%%10IFNET/3/PHY_UPDOWN(l):", or without the "%%NN" as Comware's
// info-center and VRP 8 write it ("SHELL/4/LOGIN:").
func huaweiCode(s string) string {
	i := 0
	if strings.HasPrefix(s, "%%") {
		i = 2
		for i < len(s) && i < 4 && isDigit(s[i]) {
			i++
		}
	}
	start := i
	// MODULE
	if i >= len(s) || !isUpper(s[i]) {
		return ""
	}
	for i < len(s) && (isUpper(s[i]) || isDigit(s[i]) || s[i] == '_') {
		i++
	}
	// /SEVERITY/
	if !literal(s, i, '/') || i+2 >= len(s) || !isDigit(s[i+1]) || s[i+2] != '/' {
		return ""
	}
	i += 3
	nameStart := i
	for i < len(s) && (isUpper(s[i]) || isLower(s[i]) || isDigit(s[i]) || s[i] == '_' ||
		// 3Com's "%%10IFNET/4/LINK UPDOWN(l):" has a space in the name.
		s[i] == ' ' && start > 0 && i+1 < len(s) && isUpper(s[i+1]) && i-nameStart < 48) {
		i++
	}
	if i == nameStart {
		return ""
	}
	end := i
	// (l), (s), (t): the log type; [0]: a counter.
	if literal(s, i, '(') {
		j := strings.IndexByte(s[i:], ')')
		if j < 0 || j > 4 {
			return ""
		}
		i += j + 1
	}
	if literal(s, i, '[') {
		j := strings.IndexByte(s[i:], ']')
		if j < 0 || j > 12 {
			return ""
		}
		i += j + 1
	}
	if !literal(s, i, ':') {
		return ""
	}
	return s[start:end]
}
