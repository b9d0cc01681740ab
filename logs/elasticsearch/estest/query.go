package estest

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/kusanagi-dev/kusanagi/logs/query"
)

// matcher decides whether a document matches a query.
type matcher func(*doc) bool

func queryError(format string, args ...any) *esError {
	return &esError{Status: 400, Type: "query_shard_exception", Reason: fmt.Sprintf(format, args...)}
}

func parsingError(format string, args ...any) *esError {
	return &esError{Status: 400, Type: "parsing_exception", Reason: fmt.Sprintf(format, args...)}
}

// compile builds the matcher of a query DSL object against an index's
// mapping: bool, term, match, match_phrase, wildcard, range, exists,
// match_all and match_none.
func compile(q map[string]any, m *mapping) (matcher, *esError) {
	if len(q) != 1 {
		return nil, parsingError("[_na] query malformed, must start with start_object")
	}
	for kind, body := range q {
		switch kind {
		case "match_all":
			return func(*doc) bool { return true }, nil
		case "match_none":
			return func(*doc) bool { return false }, nil
		case "bool":
			return compileBool(asMap(body), m)
		case "exists":
			f := str(asMap(body)["field"])
			return func(d *doc) bool { return exists(d, f) }, nil
		case "term", "match", "match_phrase", "wildcard", "range":
			b := asMap(body)
			if len(b) != 1 {
				return nil, parsingError("[%s] query doesn't support multiple fields, found [%d]", kind, len(b))
			}
			for f, arg := range b {
				return compileField(kind, f, arg, m)
			}
		}
		return nil, parsingError("unknown query [%s]", kind)
	}
	return nil, nil
}

func compileBool(b map[string]any, m *mapping) (matcher, *esError) {
	clauses := map[string][]matcher{}
	for _, occur := range []string{"filter", "must", "should", "must_not"} {
		for _, c := range asSlice(b[occur]) {
			mt, err := compile(asMap(c), m)
			if err != nil {
				return nil, err
			}
			clauses[occur] = append(clauses[occur], mt)
		}
	}
	for k := range b {
		if !slices.Contains([]string{"filter", "must", "should", "must_not", "minimum_should_match", "boost"}, k) {
			return nil, parsingError("[bool] query does not support [%s]", k)
		}
	}
	minShould := 0
	if len(clauses["filter"])+len(clauses["must"]) == 0 && len(clauses["should"]) > 0 {
		minShould = 1
	}
	if v, ok := b["minimum_should_match"]; ok {
		n, err := strconv.Atoi(scalarString(v))
		if err != nil {
			return nil, parsingError("[bool] minimum_should_match [%v] is not a number", v)
		}
		minShould = n
	}
	return func(d *doc) bool {
		for _, c := range append(clauses["filter"], clauses["must"]...) {
			if !c(d) {
				return false
			}
		}
		for _, c := range clauses["must_not"] {
			if c(d) {
				return false
			}
		}
		n := 0
		for _, c := range clauses["should"] {
			if c(d) {
				n++
			}
		}
		return n >= minShould
	}, nil
}

func exists(d *doc, f string) bool {
	if len(d.fields[f]) > 0 {
		return true
	}
	for k, v := range d.fields {
		if strings.HasPrefix(k, f+".") && len(v) > 0 {
			return true
		}
	}
	return false
}

// any reports whether one of the field's values satisfies ok.
func anyValue(d *doc, f string, ok func(value) bool) bool {
	return slices.ContainsFunc(d.fields[f], ok)
}

func compileField(kind, f string, arg any, m *mapping) (matcher, *esError) {
	fm, mapped := m.lookup(f)
	none := func(*doc) bool { return false }
	opts := asMap(arg)
	valueOf := func(key string) any {
		if opts == nil {
			return arg
		}
		return opts[key]
	}
	switch kind {
	case "term", "match", "match_phrase":
		v := valueOf(map[string]string{"term": "value", "match": "query", "match_phrase": "query"}[kind])
		if v == nil {
			return nil, parsingError("[%s] query requires a value", kind)
		}
		if !mapped {
			return none, nil // an unmapped field matches nothing
		}
		text := scalarString(v)
		switch fm.Type {
		case "text":
			switch kind {
			case "term":
				return func(d *doc) bool {
					return anyValue(d, f, func(x value) bool { return slices.Contains(x.tokens, text) })
				}, nil
			case "match":
				words := analyze(text)
				and := strings.EqualFold(str(opts["operator"]), "and")
				if len(words) == 0 {
					return none, nil
				}
				return func(d *doc) bool {
					return anyValue(d, f, func(x value) bool {
						n := 0
						for _, w := range words {
							if slices.Contains(x.tokens, w) {
								n++
							}
						}
						return and && n == len(words) || !and && n > 0
					})
				}, nil
			default:
				words := analyze(text)
				if len(words) == 0 {
					return none, nil
				}
				return func(d *doc) bool {
					return anyValue(d, f, func(x value) bool { return phrase(x.tokens, words) })
				}, nil
			}
		case "ip":
			if strings.Contains(text, "/") {
				p, err := netip.ParsePrefix(text)
				if err != nil {
					return nil, queryError("failed to create query: '%s' is not an IP string literal.", text)
				}
				p = unmapPrefix(p)
				return func(d *doc) bool { return anyValue(d, f, func(x value) bool { return p.Contains(x.ip) }) }, nil
			}
			a, err := netip.ParseAddr(text)
			if err != nil {
				return nil, queryError("failed to create query: '%s' is not an IP string literal.", text)
			}
			a = a.Unmap()
			return func(d *doc) bool { return anyValue(d, f, func(x value) bool { return x.ip == a }) }, nil
		case "long", "integer", "double", "float", "date", "date_nanos":
			n, err := numberBound(fm, text, "")
			if err != nil {
				return nil, queryError("failed to create query: %s", err.Error())
			}
			return func(d *doc) bool { return anyValue(d, f, func(x value) bool { return x.n == n }) }, nil
		default:
			ci, _ := opts["case_insensitive"].(bool)
			return func(d *doc) bool {
				return anyValue(d, f, func(x value) bool { return x.s == text || ci && strings.EqualFold(x.s, text) })
			}, nil
		}
	case "wildcard":
		pattern := scalarString(valueOf("value"))
		if opts != nil && opts["value"] == nil {
			pattern = scalarString(opts["wildcard"])
		}
		if !mapped {
			return none, nil
		}
		ci, _ := opts["case_insensitive"].(bool)
		re, err := query.WildcardRegexp(pattern, ci)
		if err != nil {
			return nil, queryError("failed to create query: %v", err)
		}
		switch fm.Type {
		case "text":
			return func(d *doc) bool {
				return anyValue(d, f, func(x value) bool { return slices.ContainsFunc(x.tokens, re.MatchString) })
			}, nil
		case "keyword", "flattened", "flat_object":
			return func(d *doc) bool { return anyValue(d, f, func(x value) bool { return re.MatchString(x.s) }) }, nil
		}
		return nil, queryError("failed to create query: Can only use wildcard queries on keyword and text fields - not on [%s] which is of type [%s]", f, fm.Type)
	case "range":
		if opts == nil {
			return nil, parsingError("[range] query malformed, no start_object after query name")
		}
		if !mapped {
			return none, nil
		}
		return compileRange(f, fm, opts)
	}
	return nil, parsingError("unknown query [%s]", kind)
}

func unmapPrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p
}

func phrase(tokens, words []string) bool {
	for i := 0; i+len(words) <= len(tokens); i++ {
		if slices.Equal(tokens[i:i+len(words)], words) {
			return true
		}
	}
	return false
}

// numberBound parses a bound or a term of a numeric or date field.
func numberBound(fm field, s, format string) (float64, error) {
	switch fm.Type {
	case "date", "date_nanos":
		t, err := parseDate(s, format)
		if err != nil {
			return 0, err
		}
		return float64(t.UnixNano()), nil
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, reasonf("For input string: \"%s\"", s)
	}
	return n, nil
}

func compileRange(f string, fm field, opts map[string]any) (matcher, *esError) {
	format := str(opts["format"])
	type bound struct {
		op string
		v  any
	}
	var bounds []bound
	for _, op := range []string{"gt", "gte", "lt", "lte"} {
		if v, ok := opts[op]; ok && v != nil {
			bounds = append(bounds, bound{op, v})
		}
	}
	cmpOK := func(op string, c int) bool {
		switch op {
		case "gt":
			return c > 0
		case "gte":
			return c >= 0
		case "lt":
			return c < 0
		}
		return c <= 0
	}
	var checks []func(value) bool
	for _, b := range bounds {
		text := scalarString(b.v)
		switch fm.Type {
		case "ip":
			a, err := netip.ParseAddr(text)
			if err != nil {
				return nil, queryError("failed to create query: '%s' is not an IP string literal.", text)
			}
			a = a.Unmap()
			checks = append(checks, func(x value) bool { return cmpOK(b.op, compareIP(x.ip, a)) })
		case "long", "integer", "double", "float", "date", "date_nanos":
			n, err := numberBound(fm, text, format)
			if err != nil {
				return nil, queryError("failed to create query: %s", err.Error())
			}
			checks = append(checks, func(x value) bool {
				c := 0
				if x.n < n {
					c = -1
				} else if x.n > n {
					c = 1
				}
				return cmpOK(b.op, c)
			})
		case "text":
			checks = append(checks, func(x value) bool {
				return slices.ContainsFunc(x.tokens, func(t string) bool { return cmpOK(b.op, strings.Compare(t, text)) })
			})
		default:
			// keyword: terms compare as UTF-8 bytes.
			checks = append(checks, func(x value) bool { return cmpOK(b.op, strings.Compare(x.s, text)) })
		}
	}
	return func(d *doc) bool {
		return anyValue(d, f, func(x value) bool {
			for _, c := range checks {
				if !c(x) {
					return false
				}
			}
			return true
		})
	}, nil
}

// compareIP orders addresses as Elasticsearch does: IPv4 as IPv4-mapped
// IPv6, byte by byte.
func compareIP(a, b netip.Addr) int {
	a16, b16 := a.As16(), b.As16()
	return slices.Compare(a16[:], b16[:])
}
