package syslog

import "unicode/utf8"

// scanTag reads the RFC 3164 TAG at the start of s: a program name of 1
// to 64 characters other than white space, ':', '[' and ']', an optional
// process id of 1 to 32 characters in brackets, then ": ". n is the
// length of all of it in bytes; ok is false when s does not start with
// one. It matches what `^([^\s:\[\]]{1,64})(?:\[([^\]\s]{1,32})\])?: `
// did (FuzzScanTag checks), without the regexp engine's cost per line.
func scanTag(s string) (app, pid string, n int, ok bool) {
	i, chars := scanChars(s, 0, 64, func(c byte) bool { return c == ':' || c == '[' || c == ']' })
	if chars == 0 || chars > 64 {
		return "", "", 0, false
	}
	app = s[:i]
	if i < len(s) && s[i] == '[' {
		j, chars := scanChars(s, i+1, 32, func(c byte) bool { return c == ']' })
		if chars == 0 || chars > 32 || j >= len(s) || s[j] != ']' {
			return "", "", 0, false
		}
		pid, i = s[i+1:j], j+1
	}
	if i+1 >= len(s) || s[i] != ':' || s[i+1] != ' ' {
		return "", "", 0, false
	}
	return app, pid, i + 2, true
}

// scanChars reads characters from s[i:] up to white space or a byte stop
// accepts, counting them as the regexp package does (an invalid UTF-8
// byte is one character), and stops once it has seen more than limit.
func scanChars(s string, i, limit int, stop func(byte) bool) (end, chars int) {
	for i < len(s) && chars <= limit {
		c := s[i]
		if c < utf8.RuneSelf {
			if isSpace(c) || stop(c) {
				break
			}
			i++
		} else {
			_, w := utf8.DecodeRuneInString(s[i:])
			i += w
		}
		chars++
	}
	return i, chars
}

// isSpace is the regexp package's \s: tab, newline, form feed, carriage
// return and space.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}
