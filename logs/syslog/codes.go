package syslog

import "strings"

// The scanners below match what three regexps did (FuzzScanSequence,
// FuzzCiscoCode and FuzzUpperTag compare them on every input); the regexp
// engine was a fifth of the CPU a line took to parse.

// scanSequence reads the Cisco sequence number at the start of s, as
// `^(\d*): ` did: digits, possibly none (NX-OS sends an empty one), then
// ": ". n is the length of all of it.
func scanSequence(s string) (seq string, n int, ok bool) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i+1 >= len(s) || s[i] != ':' || s[i+1] != ' ' {
		return "", 0, false
	}
	return s[:i], i + 2, true
}

// ciscoCode is the %FACILITY[-SUBFACILITY…]-SEVERITY-MNEMONIC s starts
// with, ending in ':' (or in " :", as IOS-XR writes it, or in a space, as
// ASA's message 302016 does), or "": what
// `^%([A-Z][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+){0,2}-[0-7FACEWNID]-[A-Za-z0-9_]+)(?: ?:| )`
// matches. The severity is a digit, or a letter on Cisco's small-business
// switches (%IPADTBL-N-IPDUPLICATE); ASA, FTD and IOS-XR write
// subfacilities in lower case (%ASA-session-5-106100).
func ciscoCode(s string) string {
	if len(s) < 2 || s[0] != '%' {
		return ""
	}
	end := 1
	for end < len(s) && end < 96 && s[end] != ':' && s[end] != ' ' {
		end++
	}
	if end < 2 || end == len(s) || end == 96 {
		return ""
	}
	code := s[1:end]
	if !isUpper(code[0]) {
		return ""
	}
	// The parts between hyphens: FACILITY, up to two SUBFACILITYs, the
	// severity, the MNEMONIC.
	var parts [5]string
	n := 0
	for rest := code; ; {
		i := strings.IndexByte(rest, '-')
		if n == len(parts) || i == 0 || rest == "" {
			return ""
		}
		if i < 0 {
			parts[n] = rest
			n++
			break
		}
		parts[n] = rest[:i]
		n++
		rest = rest[i+1:]
	}
	if n < 3 {
		return ""
	}
	for _, p := range parts[:n] {
		if !isCodeWord(p) {
			return ""
		}
	}
	if sev := parts[n-2]; len(sev) != 1 || !(sev[0] >= '0' && sev[0] <= '7' || strings.IndexByte("FACEWNID", sev[0]) >= 0) {
		return ""
	}
	return code
}

// upperTag is the Juniper-style SNMP_TRAP_LINK_DOWN tag s starts with,
// ending in ':', or "": what `^([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+):` matched.
func upperTag(s string) string {
	if s == "" || !isUpper(s[0]) {
		return ""
	}
	// The tag's characters, then its colon: no search of the whole line
	// for a colon a message without a tag may not have.
	end, underscores := 0, 0
	for ; end < len(s); end++ {
		c := s[end]
		if c == '_' {
			if s[end-1] == '_' {
				return ""
			}
			underscores++
		} else if !isUpper(c) && !isDigit(c) {
			break
		}
	}
	if end == len(s) || s[end] != ':' || s[end-1] == '_' || underscores == 0 {
		return ""
	}
	return s[:end]
}

// isCodeWord reports whether s is one or more of [A-Za-z0-9_].
func isCodeWord(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isUpper(c) && !isLower(c) && !isDigit(c) && c != '_' {
			return false
		}
	}
	return true
}

func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }
