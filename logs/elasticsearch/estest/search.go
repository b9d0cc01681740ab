package estest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

const maxResultWindow = 10000

// search runs _search (hits, sort, composite aggregations) and _count.
func (s *Server) search(r *http.Request, parts []string, endpoint string, body []byte) (any, *esError) {
	start := time.Now()
	req := map[string]any{}
	if len(body) > 0 {
		if err := decode(body, &req); err != nil {
			return nil, parsingError("failed to parse search source: %v", err)
		}
	}
	var indices []*index
	if len(parts) == 2 {
		ignore := r.URL.Query().Get("ignore_unavailable") == "true"
		for _, name := range strings.Split(parts[0], ",") {
			found := s.resolve(name)
			if len(found) == 0 && !ignore && !strings.Contains(name, "*") {
				return nil, notFound(name)
			}
			indices = append(indices, found...)
		}
	} else {
		indices = s.targets(nil)
	}
	q := asMap(req["query"])
	if q == nil {
		q = map[string]any{"match_all": map[string]any{}}
	}
	var hits []*doc
	var mappings []*mapping
	for _, ix := range indices {
		ix.waitRefresh(s.opts.RefreshInterval)
		mt, err := compile(q, ix.mapping)
		if err != nil {
			return nil, wrapSearchError(err)
		}
		for _, d := range ix.docs[:ix.refreshed] {
			if mt(d) {
				hits = append(hits, d)
			}
		}
		mappings = append(mappings, ix.mapping)
	}
	sh := shards(len(indices))
	if endpoint == "_count" {
		for k := range req {
			if k != "query" {
				return nil, parsingError("request does not support [%s]", k)
			}
		}
		return map[string]any{"count": len(hits), "_shards": sh}, nil
	}
	size, from := 10, 0
	if v, ok := req["size"]; ok {
		size, _ = strconv.Atoi(scalarString(v))
	}
	if v, ok := req["from"]; ok {
		from, _ = strconv.Atoi(scalarString(v))
	}
	if from+size > maxResultWindow {
		return nil, wrapSearchError(&esError{Status: 400, Type: "illegal_argument_exception", Reason: fmt.Sprintf("Result window is too large, from + size must be less than or equal to: [%d] but was [%d]. See the scroll api for a more efficient way to request large data sets. This limit can be set by changing the [index.max_result_window] index level setting.", maxResultWindow, from+size)})
	}
	sortField, desc, err := parseSort(req["sort"])
	if err != nil {
		return nil, err
	}
	if sortField != "" {
		slices.SortStableFunc(hits, func(a, b *doc) int {
			av, aok := firstNumber(a, sortField)
			bv, bok := firstNumber(b, sortField)
			switch {
			case aok != bok: // missing values last
				if aok {
					return -1
				}
				return 1
			case desc:
				return cmp.Compare(bv, av)
			}
			return cmp.Compare(av, bv)
		})
	}
	total := len(hits)
	page := hits[min(from, len(hits)):min(from+size, len(hits))]
	out := []any{}
	for _, d := range page {
		h := map[string]any{"_index": d.index, "_id": d.id, "_score": nil, "_source": d.source}
		if sortField != "" {
			v, _ := firstNumber(d, sortField)
			h["sort"] = []any{int64(v)}
		} else {
			h["_score"] = 1.0
		}
		out = append(out, h)
	}
	hitsObj := map[string]any{"max_score": nil, "hits": out}
	if tth, ok := req["track_total_hits"]; !ok || tth != false {
		hitsObj["total"] = map[string]any{"value": total, "relation": "eq"}
	}
	res := map[string]any{"took": time.Since(start).Milliseconds(), "timed_out": false, "_shards": sh, "hits": hitsObj}
	aggs := asMap(req["aggs"])
	if aggs == nil {
		aggs = asMap(req["aggregations"])
	}
	if len(aggs) > 0 {
		outAggs := map[string]any{}
		for name, a := range aggs {
			comp := asMap(asMap(a)["composite"])
			if comp == nil {
				return nil, parsingError("this test server supports only composite aggregations, not %v", a)
			}
			r, err := composite(comp, hits, mappings, indices)
			if err != nil {
				return nil, wrapSearchError(err)
			}
			outAggs[name] = r
		}
		res["aggregations"] = outAggs
	}
	return res, nil
}

// wrapSearchError is how a search reports a shard's failure.
func wrapSearchError(e *esError) *esError {
	if e.Type == "parsing_exception" {
		return e
	}
	return &esError{Status: e.Status, Type: "search_phase_execution_exception", Reason: "all shards failed", CausedBy: e,
		Extra: map[string]any{"phase": "query", "grouped": true, "failed_shards": []any{map[string]any{"shard": 0, "index": "", "reason": e.object()}}}}
}

func parseSort(v any) (string, bool, *esError) {
	for _, s := range asSlice(v) {
		switch s := s.(type) {
		case string:
			return s, false, nil
		case map[string]any:
			for f, o := range s {
				order := str(o)
				if m := asMap(o); m != nil {
					order = str(m["order"])
				}
				return f, order == "desc", nil
			}
		}
	}
	return "", false, nil
}

func firstNumber(d *doc, f string) (float64, bool) {
	vs := d.fields[f]
	if len(vs) == 0 {
		return 0, false
	}
	return vs[0].n, true
}

// composite runs a composite aggregation of terms sources: one bucket per
// distinct key, keys in ascending order (a missing value first), a page of
// size after the after key.
func composite(comp map[string]any, hits []*doc, mappings []*mapping, indices []*index) (map[string]any, *esError) {
	size := 10
	if v, ok := comp["size"]; ok {
		size, _ = strconv.Atoi(scalarString(v))
	}
	type source struct {
		name, field string
		missing     bool
		ftype       string
	}
	var sources []source
	for _, raw := range asSlice(comp["sources"]) {
		for name, def := range asMap(raw) {
			terms := asMap(asMap(def)["terms"])
			if terms == nil {
				return nil, parsingError("this test server supports only terms sources")
			}
			src := source{name: name, field: str(terms["field"])}
			src.missing, _ = terms["missing_bucket"].(bool)
			for i, m := range mappings {
				if fm, ok := m.lookup(src.field); ok {
					if fm.Type == "text" {
						return nil, &esError{Status: 400, Type: "illegal_argument_exception", Reason: fmt.Sprintf("Fielddata is disabled on [%s] in [%s]. Text fields are not optimised for operations that require per-document field data like aggregations and sorting, so these operations are disabled by default. Please use a keyword field instead.", src.field, indices[i].name)}
					}
					src.ftype = fm.Type
				}
			}
			sources = append(sources, src)
		}
	}
	type bucket struct {
		key   []*value
		count int
	}
	cmpVal := func(t string, a, b *value) int {
		switch {
		case a == nil && b == nil:
			return 0
		case a == nil:
			return -1
		case b == nil:
			return 1
		}
		switch t {
		case "ip":
			return compareIP(a.ip, b.ip)
		case "long", "integer", "double", "float", "date", "date_nanos":
			return cmp.Compare(a.n, b.n)
		}
		return strings.Compare(a.s, b.s)
	}
	cmpKey := func(a, b []*value) int {
		for i, src := range sources {
			if c := cmpVal(src.ftype, a[i], b[i]); c != 0 {
				return c
			}
		}
		return 0
	}
	var buckets []*bucket
	for _, d := range hits {
		keys := [][]*value{nil}
		for _, src := range sources {
			vals := d.fields[src.field]
			var next [][]*value
			for _, k := range keys {
				if len(vals) == 0 {
					if src.missing {
						next = append(next, append(slices.Clone(k), nil))
					}
					continue
				}
				for i := range vals {
					next = append(next, append(slices.Clone(k), &vals[i]))
				}
			}
			keys = next
		}
		for _, k := range keys {
			i, found := slices.BinarySearchFunc(buckets, k, func(b *bucket, k []*value) int { return cmpKey(b.key, k) })
			if found {
				buckets[i].count++
			} else {
				buckets = slices.Insert(buckets, i, &bucket{key: k, count: 1})
			}
		}
	}
	render := func(t string, v *value) any {
		switch {
		case v == nil:
			return nil
		case t == "ip":
			return v.ip.String()
		case t == "long" || t == "integer":
			return int64(v.n)
		case t == "date" || t == "date_nanos":
			return int64(v.n) / 1e6
		case t == "double" || t == "float":
			return v.n
		}
		return v.s
	}
	if after := asMap(comp["after"]); after != nil {
		ak := make([]*value, len(sources))
		for i, src := range sources {
			raw, ok := after[src.name]
			if !ok {
				return nil, &esError{Status: 400, Type: "illegal_argument_exception", Reason: fmt.Sprintf("[after] has 0 value(s) but [sources] has %d", len(sources))}
			}
			if raw == nil {
				continue
			}
			v, err := parseValue(field{Type: src.ftype}, raw)
			if err != nil {
				return nil, &esError{Status: 400, Type: "illegal_argument_exception", Reason: err.Error()}
			}
			if src.ftype == "date" || src.ftype == "date_nanos" {
				n, _ := json.Number(scalarString(raw)).Int64()
				v = &value{n: float64(n * 1e6)}
			}
			ak[i] = v
		}
		i := 0
		for i < len(buckets) && cmpKey(buckets[i].key, ak) <= 0 {
			i++
		}
		buckets = buckets[i:]
	}
	if len(buckets) > size {
		buckets = buckets[:size]
	}
	out := map[string]any{}
	var list []any
	for _, b := range buckets {
		key := map[string]any{}
		for i, src := range sources {
			key[src.name] = render(src.ftype, b.key[i])
		}
		list = append(list, map[string]any{"key": key, "doc_count": b.count})
		out["after_key"] = key
	}
	if list == nil {
		list = []any{}
	}
	out["buckets"] = list
	return out, nil
}
