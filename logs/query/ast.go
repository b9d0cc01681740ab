// Package query is the one log query form of the catalogue: a subset of the
// Lucene query string syntax operators know from Kibana, parsed once into a
// tree that each log store backend translates (Elasticsearch query DSL, the
// embedded store), so that a rule means the same thing on both.
package query

import "strings"

// DefaultField is searched by a value written without a field.
const DefaultField = "message"

// Node is a parsed query.
type Node interface {
	// String renders the node in the query syntax; parsing the result
	// gives back an equal tree.
	String() string
	node()
}

// And matches records that match every one of Nodes.
type And struct{ Nodes []Node }

// Or matches records that match at least one of Nodes.
type Or struct{ Nodes []Node }

// Not matches records that do not match Node.
type Not struct{ Node Node }

// Term matches a single word (text fields) or an exact value (keyword, IP
// and number fields) in Field.
type Term struct{ Field, Value string }

// Phrase matches the words of Text next to each other, in order.
type Phrase struct{ Field, Text string }

// Wildcard matches Pattern, where * stands for any run of characters and ?
// for exactly one.
type Wildcard struct{ Field, Pattern string }

// Range matches values between Lo and Hi; an empty bound is open.
type Range struct {
	Field                string
	Lo, Hi               string
	IncludeLo, IncludeHi bool
}

// Exists matches records that have Field.
type Exists struct{ Field string }

func (And) node()      {}
func (Or) node()       {}
func (Not) node()      {}
func (Term) node()     {}
func (Phrase) node()   {}
func (Wildcard) node() {}
func (Range) node()    {}
func (Exists) node()   {}

func (n And) String() string { return join(n.Nodes, " AND ") }
func (n Or) String() string  { return join(n.Nodes, " OR ") }
func (n Not) String() string { return "NOT " + group(n.Node) }

func (n Term) String() string     { return n.Field + ":" + escape(n.Value) }
func (n Phrase) String() string   { return n.Field + ":" + quote(n.Text) }
func (n Wildcard) String() string { return n.Field + ":" + escapePattern(n.Pattern) }
func (n Exists) String() string   { return "_exists_:" + n.Field }

func (n Range) String() string {
	var b strings.Builder
	b.WriteString(n.Field)
	b.WriteString(":")
	if n.IncludeLo {
		b.WriteByte('[')
	} else {
		b.WriteByte('{')
	}
	b.WriteString(bound(n.Lo))
	b.WriteString(" TO ")
	b.WriteString(bound(n.Hi))
	if n.IncludeHi {
		b.WriteByte(']')
	} else {
		b.WriteByte('}')
	}
	return b.String()
}

func bound(s string) string {
	if s == "" {
		return "*"
	}
	return quote(s)
}

// quote writes a phrase; only the quote and the backslash are escaped.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func join(nodes []Node, sep string) string {
	parts := make([]string, len(nodes))
	for i, n := range nodes {
		parts[i] = group(n)
	}
	return strings.Join(parts, sep)
}

// group puts parentheses around compound nodes so that String never depends
// on operator precedence.
func group(n Node) string {
	switch n.(type) {
	case And, Or:
		return "(" + n.String() + ")"
	}
	return n.String()
}

// escape writes a value so that the parser reads it back unchanged.
func escape(s string) string {
	var b strings.Builder
	for i, r := range s {
		if needsEscape(i, r) || r == '*' || r == '?' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// escapePattern is escape for a wildcard pattern, which already carries its
// own escapes for literal *, ? and backslash.
func escapePattern(s string) string {
	var b strings.Builder
	escaped := false
	for i, r := range s {
		switch {
		case escaped:
			escaped = false
		case r == '\\':
			escaped = true
		case needsEscape(i, r):
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func needsEscape(i int, r rune) bool {
	if i == 0 && strings.ContainsRune(leadingOperators, r) {
		return true
	}
	return isTerminator(r)
}
