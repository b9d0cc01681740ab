package query

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Error is a syntax error at a character of the query.
type Error struct {
	// Column is the 1-based character (not byte) position in the query.
	Column int
	Msg    string
}

func (e *Error) Error() string { return fmt.Sprintf("query column %d: %s", e.Column, e.Msg) }

// leadingOperators are characters that mean something at the start of a
// value, so a value starting with one must escape it.
const leadingOperators = `-!+/<>=`

// isTerminator reports whether r ends a bare word.
func isTerminator(r rune) bool {
	switch r {
	case '(', ')', '"', '[', ']', '{', '}', '~', '^':
		return true
	}
	return unicode.IsSpace(r)
}

func isFieldRune(r rune) bool {
	return r == '_' || r == '.' || r == '@' || r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// maxDepth bounds nesting so that hostile input cannot exhaust the stack.
const maxDepth = 100

// Parse parses a query such as
//
//	mnemonic:"LINK-3-UPDOWN" AND message:"changed state to down" AND NOT host.ip:fd00::1
//
// Operators (AND, OR, NOT, &&, ||, !, -) must be explicit between terms:
// Lucene's implicit operator is OR in Elasticsearch and AND elsewhere, so a
// query relying on it would mean different things to different readers.
func Parse(q string) (n Node, err error) {
	p := &parser{src: q}
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(*Error)
			if !ok {
				panic(r)
			}
			n, err = nil, e
		}
	}()
	p.skipSpace()
	if p.eof() {
		p.fail(p.pos, "empty query")
	}
	n = p.parseOr("")
	p.skipSpace()
	if !p.eof() {
		if p.peek() == ')' {
			p.fail(p.pos, "unbalanced ')'")
		}
		p.fail(p.pos, "unexpected %q", p.rest(12))
	}
	return n, nil
}

type parser struct {
	src   string
	pos   int
	depth int
}

func (p *parser) fail(at int, format string, args ...any) {
	panic(&Error{Column: utf8.RuneCountInString(p.src[:at]) + 1, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) eof() bool { return p.pos >= len(p.src) }

func (p *parser) peek() rune {
	if p.eof() {
		return 0
	}
	r, _ := utf8.DecodeRuneInString(p.src[p.pos:])
	return r
}

func (p *parser) next() rune {
	r, size := utf8.DecodeRuneInString(p.src[p.pos:])
	p.pos += size
	return r
}

func (p *parser) rest(max int) string {
	s := p.src[p.pos:]
	if len(s) > max {
		i := max
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s = s[:i] + "…"
	}
	return s
}

func (p *parser) skipSpace() {
	for !p.eof() && unicode.IsSpace(p.peek()) {
		p.next()
	}
}

// operator consumes one of words if it stands alone at the current position.
func (p *parser) operator(words ...string) bool {
	for _, w := range words {
		if !strings.HasPrefix(p.src[p.pos:], w) {
			continue
		}
		end := p.pos + len(w)
		if end < len(p.src) && unicode.IsLetter(rune(w[0])) {
			r, _ := utf8.DecodeRuneInString(p.src[end:])
			if !isTerminator(r) {
				continue
			}
		}
		p.pos = end
		return true
	}
	return false
}

func (p *parser) enter() {
	p.depth++
	if p.depth > maxDepth {
		p.fail(p.pos, "query nested more than %d levels deep", maxDepth)
	}
}

// parseOr parses a disjunction; field is set inside field:( ... ).
func (p *parser) parseOr(field string) Node {
	p.enter()
	defer func() { p.depth-- }()
	nodes := []Node{p.parseAnd(field)}
	for {
		p.skipSpace()
		if !p.operator("OR", "||") {
			break
		}
		nodes = append(nodes, p.parseAnd(field))
	}
	if len(nodes) == 1 {
		return nodes[0]
	}
	return Or{Nodes: nodes}
}

func (p *parser) parseAnd(field string) Node {
	nodes := []Node{p.parseUnary(field)}
	for {
		p.skipSpace()
		if p.eof() || p.peek() == ')' {
			break
		}
		if p.operator("AND", "&&") {
			nodes = append(nodes, p.parseUnary(field))
			continue
		}
		if p.operator("OR", "||") {
			p.pos -= len("OR") // leave it to parseOr; "||" has the same length
			break
		}
		hint := ""
		if at := p.pos; p.operator("and", "or", "not") {
			p.pos = at
			hint = " (operators are upper case: AND, OR, NOT)"
		}
		p.fail(p.pos, "expected AND or OR before %q: write the operator between terms explicitly%s", p.rest(12), hint)
	}
	if len(nodes) == 1 {
		return nodes[0]
	}
	return And{Nodes: nodes}
}

func (p *parser) parseUnary(field string) Node {
	p.skipSpace()
	start := p.pos
	if p.operator("NOT") || p.operator("!", "-") {
		p.enter()
		defer func() { p.depth-- }()
		if p.skipSpace(); p.eof() {
			p.fail(start, "NOT needs a term after it")
		}
		return Not{Node: p.parseUnary(field)}
	}
	if p.peek() == '+' {
		p.fail(p.pos, "'+' (required term) is not supported: join terms with AND")
	}
	return p.parsePrimary(field)
}

func (p *parser) parsePrimary(field string) Node {
	p.skipSpace()
	if p.eof() {
		p.fail(p.pos, "expected a term at the end of the query")
	}
	switch r := p.peek(); r {
	case '(':
		return p.parseGroup(field)
	case ')':
		p.fail(p.pos, "expected a term before ')'")
	}
	start := p.pos
	if p.operator("AND", "OR", "&&", "||") {
		p.fail(start, "%s needs a term on its left", p.src[start:p.pos])
	}
	if field != "" {
		return p.parseValue(field, false)
	}
	for !p.eof() && isFieldRune(p.peek()) {
		p.next()
	}
	if p.pos > start && p.peek() == ':' && p.src[start] != '-' {
		field = p.src[start:p.pos]
		p.next()
		if p.eof() || unicode.IsSpace(p.peek()) {
			p.fail(p.pos, "expected a value after %q", field+":")
		}
		return p.parseValue(field, true)
	}
	p.pos = start
	return p.parseValue(DefaultField, false)
}

func (p *parser) parseGroup(field string) Node {
	open := p.pos
	p.next()
	n := p.parseOr(field)
	p.skipSpace()
	if p.peek() != ')' {
		p.fail(open, "unbalanced '(': no matching ')'")
	}
	p.next()
	return n
}

func (p *parser) parseValue(field string, allowGroup bool) Node {
	start := p.pos
	var n Node
	switch p.peek() {
	case '(':
		if !allowGroup {
			p.fail(p.pos, "unexpected '('")
		}
		if field == existsField {
			p.fail(p.pos, "_exists_ takes one field name")
		}
		return p.parseGroup(field)
	case '"':
		n = Phrase{Field: field, Text: p.parsePhrase()}
	case '[', '{':
		n = p.parseRange(field)
	case '>', '<':
		n = p.parseComparison(field)
	case '/':
		p.fail(p.pos, "regular expressions (/.../) are not supported: use wildcards (* and ?) or quote the value")
	case '=':
		p.fail(p.pos, "unexpected '=': write field:value")
	default:
		value, pattern, wild := p.parseWord("")
		if value == "" && !wild {
			p.fail(start, "expected a value")
		}
		switch {
		case field == existsField:
			if wild || !validField(value) {
				p.fail(start, "_exists_ needs a field name, got %q", p.src[start:p.pos])
			}
			n = Exists{Field: value}
		case wild:
			n = Wildcard{Field: field, Pattern: pattern}
		default:
			n = Term{Field: field, Value: value}
		}
	}
	switch p.peek() {
	case '~':
		p.fail(p.pos, "fuzzy and proximity searches (~) are not supported")
	case '^':
		p.fail(p.pos, "boosts (^) are not supported: they change scores, not matches")
	}
	return n
}

const existsField = "_exists_"

func validField(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !isFieldRune(r) {
			return false
		}
	}
	return true
}

// parseWord reads a bare value up to a terminator or one of extra. It returns
// the value with escapes resolved, the same value as a wildcard pattern
// (escapes kept for literal *, ? and backslash) and whether it has an
// unescaped wildcard.
func (p *parser) parseWord(extra string) (value, pattern string, wild bool) {
	var v, pat strings.Builder
	for !p.eof() {
		r := p.peek()
		if isTerminator(r) || strings.ContainsRune(extra, r) {
			break
		}
		p.next()
		switch r {
		case '\\':
			if p.eof() {
				p.fail(p.pos-1, "escape character '\\' at the end of the query")
			}
			e := p.next()
			v.WriteRune(e)
			if e == '*' || e == '?' || e == '\\' {
				pat.WriteByte('\\')
			}
			pat.WriteRune(e)
		case '*', '?':
			wild = true
			pat.WriteRune(r)
		default:
			v.WriteRune(r)
			pat.WriteRune(r)
		}
	}
	return v.String(), pat.String(), wild
}

func (p *parser) parsePhrase() string {
	open := p.pos
	p.next()
	var b strings.Builder
	for {
		if p.eof() {
			p.fail(open, "unterminated phrase: no closing '\"'")
		}
		r := p.next()
		switch r {
		case '"':
			if b.Len() == 0 {
				p.fail(open, "empty phrase")
			}
			return b.String()
		case '\\':
			if p.eof() {
				p.fail(open, "unterminated phrase: no closing '\"'")
			}
			b.WriteRune(p.next())
		default:
			b.WriteRune(r)
		}
	}
}

// parseBound reads one end of a range: a word, a phrase or * for open.
func (p *parser) parseBound() string {
	p.skipSpace()
	start := p.pos
	if p.peek() == '"' {
		return p.parsePhrase()
	}
	value, _, wild := p.parseWord("")
	if wild {
		if value == "" {
			return ""
		}
		p.fail(start, "wildcards are not allowed in range bounds, only * for an open end")
	}
	if value == "" {
		p.fail(start, "expected a range bound")
	}
	return value
}

func (p *parser) parseRange(field string) Node {
	open := p.pos
	r := Range{Field: field, IncludeLo: p.next() == '['}
	r.Lo = p.parseBound()
	p.skipSpace()
	if !p.operator("TO") {
		p.fail(p.pos, "expected TO in range")
	}
	r.Hi = p.parseBound()
	p.skipSpace()
	switch p.peek() {
	case ']':
		r.IncludeHi = true
	case '}':
	default:
		p.fail(open, "unterminated range: expected ']' or '}'")
	}
	p.next()
	return r
}

func (p *parser) parseComparison(field string) Node {
	start := p.pos
	op := string(p.next())
	if p.peek() == '=' {
		op += string(p.next())
	}
	var value string
	if p.peek() == '"' {
		value = p.parsePhrase()
	} else {
		var wild bool
		value, _, wild = p.parseWord("")
		if wild || value == "" {
			p.fail(start, "expected a value after %q", op)
		}
	}
	switch op {
	case ">":
		return Range{Field: field, Lo: value}
	case ">=":
		return Range{Field: field, Lo: value, IncludeLo: true}
	case "<":
		return Range{Field: field, Hi: value}
	default:
		return Range{Field: field, Hi: value, IncludeHi: true}
	}
}
