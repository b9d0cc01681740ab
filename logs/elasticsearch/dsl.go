// Package elasticsearch is the log store on Elasticsearch 8 / OpenSearch 2.
// This file translates the catalogue's query form into query DSL, so that a
// rule means on Elasticsearch what it means on the embedded store: text
// fields (message, event.original) match words and phrases, every other
// field exact values, as the ECS index template maps them.
package elasticsearch

import (
	"fmt"
	"strings"
	"time"

	"github.com/kusanagi-dev/kusanagi/logs"
	"github.com/kusanagi-dev/kusanagi/logs/query"
)

// DSL is a query DSL object, ready for encoding/json.
type DSL = map[string]any

// Query returns the DSL for q on the records that arrived in [from, to):
// event.created, or @timestamp for a document indexed before records had
// an arrival time.
func Query(q query.Node, from, to time.Time) (DSL, error) {
	within := func(field string) DSL {
		return DSL{"range": DSL{field: DSL{
			"gte": from.UTC().Format(time.RFC3339Nano), "lt": to.UTC().Format(time.RFC3339Nano),
			"format": "strict_date_optional_time_nanos",
		}}}
	}
	window := DSL{"bool": DSL{"should": []any{
		within(fieldCreated),
		DSL{"bool": DSL{
			"must_not": []any{DSL{"exists": DSL{"field": fieldCreated}}},
			"filter":   []any{within("@timestamp")},
		}},
	}, "minimum_should_match": 1}}
	filters := []any{window}
	if q != nil {
		d, err := translate(q)
		if err != nil {
			return nil, err
		}
		filters = append(filters, d)
	}
	return DSL{"bool": DSL{"filter": filters}}, nil
}

func translate(n query.Node) (DSL, error) {
	switch n := n.(type) {
	case query.And:
		parts, err := translateAll(n.Nodes)
		return DSL{"bool": DSL{"filter": parts}}, err
	case query.Or:
		parts, err := translateAll(n.Nodes)
		return DSL{"bool": DSL{"should": parts, "minimum_should_match": 1}}, err
	case query.Not:
		inner, err := translate(n.Node)
		return DSL{"bool": DSL{"must_not": []any{inner}}}, err
	case query.Term:
		if logs.TextFields[n.Field] {
			if multiWord(n.Value) {
				// A value the analyzer splits (Gi0/1) means its words in
				// order, as on the embedded store.
				return DSL{"match_phrase": DSL{n.Field: n.Value}}, nil
			}
			return DSL{"match": DSL{n.Field: DSL{"query": n.Value, "operator": "and"}}}, nil
		}
		return DSL{"term": DSL{n.Field: n.Value}}, nil
	case query.Phrase:
		if logs.TextFields[n.Field] {
			return DSL{"match_phrase": DSL{n.Field: n.Text}}, nil
		}
		return DSL{"term": DSL{n.Field: n.Text}}, nil
	case query.Wildcard:
		w := DSL{"value": n.Pattern}
		if logs.TextFields[n.Field] {
			// Text is indexed as lower-cased words; the pattern applies to each.
			w = DSL{"value": strings.ToLower(n.Pattern), "case_insensitive": true}
		}
		return DSL{"wildcard": DSL{n.Field: w}}, nil
	case query.Range:
		r := DSL{}
		if n.Lo != "" {
			r[map[bool]string{true: "gte", false: "gt"}[n.IncludeLo]] = n.Lo
		}
		if n.Hi != "" {
			r[map[bool]string{true: "lte", false: "lt"}[n.IncludeHi]] = n.Hi
		}
		if len(r) == 0 {
			return DSL{"exists": DSL{"field": n.Field}}, nil
		}
		return DSL{"range": DSL{n.Field: r}}, nil
	case query.Exists:
		return DSL{"exists": DSL{"field": n.Field}}, nil
	}
	return nil, fmt.Errorf("unsupported query node %T", n)
}

func translateAll(nodes []query.Node) ([]any, error) {
	out := make([]any, len(nodes))
	for i, n := range nodes {
		d, err := translate(n)
		if err != nil {
			return nil, err
		}
		out[i] = d
	}
	return out, nil
}

// multiWord reports whether the standard analyzer would split s.
func multiWord(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool {
		return !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 127)
	}) >= 0
}
