package query

import (
	"regexp"
	"strings"
)

// WildcardRegexp compiles a Lucene/Elasticsearch wildcard pattern (* any
// run, ? one character, backslash escapes) to an anchored regular
// expression; fold makes it case-insensitive, as analyzed text matches.
// Both stores (and the Elasticsearch test server) match wildcards with it,
// so that a pattern means the same everywhere.
func WildcardRegexp(pattern string, fold bool) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	if fold {
		b.WriteString("(?i)")
	}
	escaped := false
	for _, r := range pattern {
		switch {
		case escaped:
			b.WriteString(regexp.QuoteMeta(string(r)))
			escaped = false
		case r == '\\':
			escaped = true
		case r == '*':
			b.WriteString("(?s:.*)")
		case r == '?':
			b.WriteString("(?s:.)")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}
