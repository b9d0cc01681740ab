package embedded

import (
	"database/sql/driver"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"modernc.org/sqlite"

	"github.com/kusanagi-dev/kusanagi/logs"
	"github.com/kusanagi-dev/kusanagi/logs/query"
)

// The query tree becomes one SQL condition over the records table: text
// fields through the FTS5 index (words, phrases, prefixes), keyword fields
// through the JSON document (exact values, wildcards, CIDRs, ranges).

func init() {
	sqlite.MustRegisterDeterministicScalarFunction("kusanagi_cidr", 2, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		prefix, _ := args[0].(string)
		value, _ := args[1].(string)
		p, err := netip.ParsePrefix(prefix)
		if err != nil {
			return false, nil
		}
		a, err := netip.ParseAddr(value)
		return err == nil && p.Contains(a.Unmap()), nil
	})
	// The sender's time of a record, kept in its document (see document).
	sqlite.MustRegisterDeterministicScalarFunction("kusanagi_nanos", 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		s, ok := args[0].(string)
		if !ok {
			return nil, nil
		}
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, nil
		}
		return saturatedNanos(ts), nil
	})
	sqlite.MustRegisterDeterministicScalarFunction("kusanagi_words", 2, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		value, _ := args[0].(string)
		phrase, _ := args[1].(string)
		return containsWords(value, phrase), nil
	})
	sqlite.MustRegisterDeterministicScalarFunction("kusanagi_wildcard", 3, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		pattern, _ := args[0].(string)
		value, _ := args[1].(string)
		words, _ := args[2].(int64)
		re, err := wildcardRE(pattern, words == 1)
		if err != nil {
			return false, nil
		}
		if words == 1 {
			for _, w := range splitWords(value) {
				if re.MatchString(w) {
					return true, nil
				}
			}
			return false, nil
		}
		return re.MatchString(value), nil
	})
}

var wildcardCache = struct {
	sync.Mutex
	m map[string]*regexp.Regexp
}{m: map[string]*regexp.Regexp{}}

// wildcardRE is query.WildcardRegexp, cached: a rule runs the same
// pattern on every evaluation.
func wildcardRE(pattern string, fold bool) (*regexp.Regexp, error) {
	key := strconv.FormatBool(fold) + pattern
	wildcardCache.Lock()
	defer wildcardCache.Unlock()
	if re, ok := wildcardCache.m[key]; ok {
		return re, nil
	}
	re, err := query.WildcardRegexp(pattern, fold)
	if err == nil && len(wildcardCache.m) < 1000 {
		wildcardCache.m[key] = re
	}
	return re, err
}

// isWordRune tells the characters words are made of, as the FTS index's
// tokenizer (unicode61: categories L* N* Co, and tokenchars _) tells them;
// isWordMark the combining marks it keeps inside a word.
func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
	}
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Co, r)
}

func isWordMark(r rune) bool {
	return r >= utf8.RuneSelf && (unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r))
}

func splitWords(s string) []string {
	var words []string
	for i := 0; ; {
		w, next := nextWord(s, i)
		if w == "" {
			return words
		}
		words = append(words, w)
		i = next
	}
}

// nextWord returns the first word of s at or after i, and the index after
// it; the word is empty when there is none.
func nextWord(s string, i int) (word string, end int) {
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if isWordRune(r) {
			break
		}
		i += size
	}
	start := i
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !isWordRune(r) && !isWordMark(r) {
			break
		}
		i += size
	}
	return s[start:i], i
}

// containsWords tells whether the words of phrase appear in value, next
// to each other and in order, compared as the FTS index compares them
// (split by isWordRune, case folded), so that a text condition means the
// same whether the index or the row answers it.
func containsWords(value, phrase string) bool {
	want := splitWords(phrase)
	if len(want) == 0 {
		return false
	}
	for i := 0; ; {
		w, next := nextWord(value, i)
		if w == "" {
			return false
		}
		if strings.EqualFold(w, want[0]) {
			j, k := next, 1
			for ; k < len(want); k++ {
				var x string
				x, j = nextWord(value, j)
				if x == "" || !strings.EqualFold(x, want[k]) {
					break
				}
			}
			if k == len(want) {
				return true
			}
		}
		i = next
	}
}

// ftsColumn maps a text field to its FTS5 column. event.original is not
// in the FTS index (as ECS leaves it unindexed): it repeats the message
// after a header whose parts are fields of their own, and indexing it
// took a third of the time spent storing a record. Its words are matched
// on the rows of the window (kusanagi_words).
var ftsColumn = map[string]string{"message": "message"}

type translator struct {
	args []any
	// loID and hiID bound the rows of the time window: the FTS index is
	// searched only within them, not over all time.
	loID, hiID int64
	// onRows is set within an AND that also asks for an event.code: that
	// index narrows the window to a few rows, and matching their text one
	// by one costs less than collecting every row of the window the FTS
	// index matches (a log rule: a mnemonic and a phrase).
	onRows bool
}

func (t *translator) arg(v any) string {
	t.args = append(t.args, v)
	return "?"
}

// columns are the fields kept in their own column of the records table;
// every other field is read from the JSON document.
var columns = map[string]string{"message": "message", "event.original": "original", "host.ip": "host", "event.code": "code"}

func column(field string) string {
	if c, ok := columns[field]; ok {
		return c
	}
	return fmt.Sprintf(`json_extract(doc, '$."%s"')`, strings.ReplaceAll(field, `"`, ``))
}

// ftsString quotes s as one FTS5 string (a word or a phrase).
func ftsString(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// fts lets SQLite look the index's matches up by id, rather than read
// every row of the window and test each against them: a word that is
// rare in the window (what a log rule looks for) costs its matches, not
// the window. Over 150k rows, counting a word that is nowhere took 0.5 ms
// rather than 69, one in a tenth of the rows 61 ms rather than 90; only a
// word in most rows costs more (177 ms rather than 127 at 60%).
func (t *translator) fts(field, expr string) string {
	return "id IN (SELECT rowid FROM records_text WHERE records_text MATCH " + t.arg("{"+ftsColumn[field]+"} : "+expr) +
		" AND rowid BETWEEN " + t.arg(t.loID) + " AND " + t.arg(t.hiID) + ")"
}

// text matches a word or a phrase in a text field: through the FTS index
// when the field is in it, else word by word on the column.
func (t *translator) text(field, words string) string {
	if ftsColumn[field] != "" && !t.onRows {
		return t.fts(field, ftsString(words))
	}
	return "kusanagi_words(" + column(field) + ", " + t.arg(words) + ")"
}

func (t *translator) node(n query.Node) (string, error) {
	switch n := n.(type) {
	case query.And:
		if !t.onRows && slices.ContainsFunc(n.Nodes, indexedKeyword) {
			t.onRows = true
			defer func() { t.onRows = false }()
		}
		return t.join(n.Nodes, " AND ")
	case query.Or:
		return t.join(n.Nodes, " OR ")
	case query.Not:
		inner, err := t.node(n.Node)
		return "NOT (" + inner + ")", err
	case query.Term:
		if logs.TextFields[n.Field] {
			return t.text(n.Field, n.Value), nil
		}
		if n.Field == "host.ip" && strings.Contains(n.Value, "/") {
			if _, err := netip.ParsePrefix(n.Value); err != nil {
				return "", fmt.Errorf("host.ip:%s: %v", n.Value, err)
			}
			return "kusanagi_cidr(" + t.arg(n.Value) + ", " + column(n.Field) + ")", nil
		}
		if n.Field == "host.ip" {
			if a, err := netip.ParseAddr(n.Value); err == nil {
				return column(n.Field) + " = " + t.arg(a.Unmap().String()), nil
			}
		}
		return column(n.Field) + " = " + t.arg(n.Value), nil
	case query.Phrase:
		if logs.TextFields[n.Field] {
			return t.text(n.Field, n.Text), nil
		}
		return column(n.Field) + " = " + t.arg(n.Text), nil
	case query.Wildcard:
		words := 0
		if logs.TextFields[n.Field] {
			if prefix, ok := strings.CutSuffix(n.Pattern, "*"); ok && ftsColumn[n.Field] != "" && !t.onRows && prefix != "" && !strings.ContainsAny(prefix, `*?\`) && len(splitWords(prefix)) == 1 && splitWords(prefix)[0] == prefix {
				return t.fts(n.Field, ftsString(prefix)+"*"), nil
			}
			words = 1
		}
		return "kusanagi_wildcard(" + t.arg(n.Pattern) + ", " + column(n.Field) + ", " + strconv.Itoa(words) + ")", nil
	case query.Range:
		return t.rangeCond(n)
	case query.Exists:
		return column(n.Field) + " IS NOT NULL", nil
	}
	return "", fmt.Errorf("unsupported query node %T", n)
}

// indexedKeyword tells a condition that the event.code index answers.
func indexedKeyword(n query.Node) bool {
	switch n := n.(type) {
	case query.Term:
		return n.Field == "event.code"
	case query.Phrase:
		return n.Field == "event.code"
	}
	return false
}

func (t *translator) join(nodes []query.Node, op string) (string, error) {
	parts := make([]string, len(nodes))
	for i, n := range nodes {
		p, err := t.node(n)
		if err != nil {
			return "", err
		}
		parts[i] = "(" + p + ")"
	}
	return strings.Join(parts, op), nil
}

// rangeCond compares numbers as numbers when both bounds are numbers, the
// time field as time, and everything else as text.
func (t *translator) rangeCond(r query.Range) (string, error) {
	col := column(r.Field)
	conv := func(s string) (any, error) { return s, nil }
	lo, hi := r.Lo, r.Hi
	numeric := (lo == "" || isNumber(lo)) && (hi == "" || isNumber(hi))
	switch {
	case r.Field == "event.created" || r.Field == timestampField:
		col = "ts"
		if r.Field == timestampField {
			col = "coalesce(kusanagi_nanos(json_extract(doc, '$.\"" + timestampField + "\"')), ts)"
		}
		conv = func(s string) (any, error) {
			for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
				if ts, err := time.Parse(layout, s); err == nil {
					return saturatedNanos(ts), nil
				}
			}
			return nil, fmt.Errorf("%s bound %q is not a date (2026-11-25, RFC 3339)", r.Field, s)
		}
	case numeric:
		col = "CAST(" + col + " AS REAL)"
		conv = func(s string) (any, error) { return strconv.ParseFloat(s, 64) }
	}
	var conds []string
	for _, b := range []struct {
		v         string
		op, opInc string
		inc       bool
	}{{lo, ">", ">=", r.IncludeLo}, {hi, "<", "<=", r.IncludeHi}} {
		if b.v == "" {
			continue
		}
		v, err := conv(b.v)
		if err != nil {
			return "", err
		}
		op := b.op
		if b.inc {
			op = b.opInc
		}
		conds = append(conds, col+" "+op+" "+t.arg(v))
	}
	if len(conds) == 0 {
		return column(r.Field) + " IS NOT NULL", nil
	}
	return strings.Join(conds, " AND "), nil
}

// saturatedNanos is t in Unix nanoseconds, or the nearest of the int64
// range's ends for a time before 1678 or after 2261 (a sender's clock can
// say anything).
func saturatedNanos(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}
