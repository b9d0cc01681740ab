package estest

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// field is the mapping of one field path.
type field struct {
	Type            string // keyword, text, ip, long, date, date_nanos, boolean, double, object, flattened, flat_object
	IgnoreAbove     int
	IgnoreMalformed bool
	Disabled        bool // an object with enabled: false: kept in _source, not parsed
}

// leafTypes are the field types this server indexes.
var leafTypes = map[string]bool{"keyword": true, "text": true, "ip": true, "long": true, "integer": true, "date": true, "date_nanos": true, "boolean": true, "double": true, "float": true}

// dynamicTemplate is one entry of mappings.dynamic_templates.
type dynamicTemplate struct {
	MatchMappingType string
	Match, PathMatch string
	Mapping          field
}

type mapping struct {
	fields  map[string]field
	dynamic []dynamicTemplate
}

func (m *mapping) clone() *mapping {
	c := &mapping{fields: map[string]field{}, dynamic: m.dynamic}
	for k, v := range m.fields {
		c.fields[k] = v
	}
	return c
}

// parseMapping reads the "mappings" object of a template; flavor decides
// which field types exist.
func parseMapping(raw map[string]any, opensearch bool) (*mapping, error) {
	m := &mapping{fields: map[string]field{}}
	if raw == nil {
		return m, nil
	}
	if dts, ok := raw["dynamic_templates"].([]any); ok {
		for _, dt := range dts {
			for name, body := range asMap(dt) {
				b := asMap(body)
				f, err := parseField(name, asMap(b["mapping"]), opensearch)
				if err != nil {
					return nil, err
				}
				m.dynamic = append(m.dynamic, dynamicTemplate{
					MatchMappingType: str(b["match_mapping_type"]), Match: str(b["match"]), PathMatch: str(b["path_match"]), Mapping: f,
				})
			}
		}
	}
	var walk func(prefix string, props map[string]any) error
	walk = func(prefix string, props map[string]any) error {
		for name, v := range props {
			full := prefix + name
			// Dotted names in a mapping stand for objects.
			parts := strings.Split(full, ".")
			for i := 1; i < len(parts); i++ {
				p := strings.Join(parts[:i], ".")
				if _, ok := m.fields[p]; !ok {
					m.fields[p] = field{Type: "object"}
				}
			}
			body := asMap(v)
			if sub, ok := body["properties"].(map[string]any); ok && str(body["type"]) == "" || str(body["type"]) == "object" && body["properties"] != nil {
				m.fields[full] = field{Type: "object"}
				if err := walk(full+".", sub); err != nil {
					return err
				}
				continue
			}
			f, err := parseField(full, body, opensearch)
			if err != nil {
				return err
			}
			m.fields[full] = f
		}
		return nil
	}
	if props, ok := raw["properties"].(map[string]any); ok {
		if err := walk("", props); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func parseField(name string, body map[string]any, opensearch bool) (field, error) {
	t := str(body["type"])
	f := field{Type: t}
	switch {
	case t == "object" || t == "":
		f.Type = "object"
		if e, ok := body["enabled"].(bool); ok && !e {
			f.Disabled = true
		}
	case t == "flattened" && !opensearch, t == "flat_object" && opensearch, leafTypes[t]:
	default:
		return f, &esError{Status: 400, Type: "mapper_parsing_exception", Reason: fmt.Sprintf("No handler for type [%s] declared on field [%s]", t, name[strings.LastIndex(name, ".")+1:])}
	}
	if n, ok := body["ignore_above"].(json.Number); ok {
		v, _ := n.Int64()
		f.IgnoreAbove = int(v)
	}
	if b, ok := body["ignore_malformed"].(bool); ok {
		f.IgnoreMalformed = b
	}
	return f, nil
}

// lookup returns the mapping of a path; a key under a flattened field is
// a keyword.
func (m *mapping) lookup(p string) (field, bool) {
	if f, ok := m.fields[p]; ok {
		return f, true
	}
	for i := strings.LastIndex(p, "."); i > 0; i = strings.LastIndex(p[:i], ".") {
		if f, ok := m.fields[p[:i]]; ok {
			if f.Type == "flattened" || f.Type == "flat_object" {
				return field{Type: "keyword"}, true
			}
			return field{}, false
		}
	}
	return field{}, false
}

// value is one indexed value of a field.
type value struct {
	s      string     // keyword, and the source text
	tokens []string   // text
	ip     netip.Addr // ip
	n      float64    // long, double, date (Unix nanoseconds)
}

// doc is a stored document.
type doc struct {
	id     string
	index  string
	seq    int
	source json.RawMessage
	fields map[string][]value
}

// parseDoc indexes a document's source against the mapping, adding
// dynamic fields to it, or refuses it as Elasticsearch does.
func (s *Server) parseDoc(m *mapping, id string, src map[string]any) (map[string][]value, *esError) {
	out := map[string][]value{}
	var walk func(prefix string, v any) *esError
	walk = func(p string, v any) *esError {
		// A path under a disabled object or in a flattened field.
		for i := strings.LastIndex(p, "."); i > 0; i = strings.LastIndex(p[:i], ".") {
			if f, ok := m.fields[p[:i]]; ok {
				switch {
				case f.Disabled:
					return nil
				case f.Type == "flattened" || f.Type == "flat_object":
					return s.flatValues(out, p, v)
				case f.Type != "object":
					return s.parseError(fmt.Sprintf("Could not dynamically add mapping for field [%s]. Existing mapping for [%s] must be of type object but found [%s].", p, p[:i], f.Type), nil)
				}
			}
		}
		switch v := v.(type) {
		case nil:
			return nil
		case []any:
			for _, e := range v {
				if err := walk(p, e); err != nil {
					return err
				}
			}
			return nil
		case map[string]any:
			f, ok := m.fields[p]
			if ok && f.Type != "object" {
				if f.Type == "flattened" || f.Type == "flat_object" {
					return s.flatValues(out, p, v)
				}
				return s.parseError(fmt.Sprintf("failed to parse field [%s] of type [%s] in document with id '%s'. Preview of field's value: '%s'", p, f.Type, id, preview(v)), nil)
			}
			if !ok {
				s.addParents(m, p)
				m.fields[p] = field{Type: "object"}
			}
			if f.Disabled {
				return nil
			}
			for _, k := range slices.Sorted(maps.Keys(v)) {
				if err := walk(p+"."+k, v[k]); err != nil {
					return err
				}
			}
			return nil
		}
		f, ok := m.fields[p]
		if !ok {
			f = m.dynamicField(p, v)
			s.addParents(m, p)
			m.fields[p] = f
		}
		if f.Type == "object" {
			return s.parseError(fmt.Sprintf("object mapping for [%s] tried to parse field [%s] as object, but found a concrete value", p, p[strings.LastIndex(p, ".")+1:]), nil)
		}
		val, err := parseValue(f, v)
		if err != nil {
			if f.IgnoreMalformed {
				return nil
			}
			return s.parseError(fmt.Sprintf("failed to parse field [%s] of type [%s] in document with id '%s'. Preview of field's value: '%s'", p, f.Type, id, preview(v)), err)
		}
		if val != nil {
			out[p] = append(out[p], *val)
		}
		return nil
	}
	// Dotted keys of the source are object paths.
	for _, k := range slices.Sorted(maps.Keys(src)) {
		if err := walk(k, src[k]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Server) flatValues(out map[string][]value, p string, v any) *esError {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if err := s.flatValues(out, p+"."+k, e); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range v {
			if err := s.flatValues(out, p, e); err != nil {
				return err
			}
		}
	case nil:
	default:
		out[p] = append(out[p], value{s: scalarString(v)})
	}
	return nil
}

func (s *Server) addParents(m *mapping, p string) {
	parts := strings.Split(p, ".")
	for i := 1; i < len(parts); i++ {
		q := strings.Join(parts[:i], ".")
		if _, ok := m.fields[q]; !ok {
			m.fields[q] = field{Type: "object"}
		}
	}
}

// parseError is the refusal of a document: document_parsing_exception on
// Elasticsearch 8, mapper_parsing_exception on OpenSearch.
func (s *Server) parseError(reason string, cause error) *esError {
	t := "document_parsing_exception"
	if s.opensearch {
		t = "mapper_parsing_exception"
	}
	e := &esError{Status: 400, Type: t, Reason: reason}
	if cause != nil {
		e.CausedBy = &esError{Type: "illegal_argument_exception", Reason: cause.Error()}
	}
	return e
}

// dynamicField maps a new field by the dynamic templates, else as
// Elasticsearch's default dynamic mapping does.
func (m *mapping) dynamicField(p string, v any) field {
	kind := "string"
	switch v := v.(type) {
	case json.Number:
		kind = "long"
		if strings.ContainsAny(string(v), ".eE") {
			kind = "double"
		}
	case bool:
		kind = "boolean"
	}
	for _, dt := range m.dynamic {
		if dt.MatchMappingType != "" && dt.MatchMappingType != "*" && dt.MatchMappingType != kind {
			continue
		}
		if dt.Match != "" {
			if ok, _ := path.Match(dt.Match, p[strings.LastIndex(p, ".")+1:]); !ok {
				continue
			}
		}
		if dt.PathMatch != "" {
			if ok, _ := path.Match(dt.PathMatch, p); !ok {
				continue
			}
		}
		return dt.Mapping
	}
	switch kind {
	case "string":
		return field{Type: "text"} // and a .keyword subfield, not modelled
	case "long":
		return field{Type: "long"}
	case "double":
		return field{Type: "double"}
	}
	return field{Type: "boolean"}
}

// parseValue indexes one scalar: nil for a value not indexed (a keyword
// above ignore_above).
func parseValue(f field, v any) (*value, error) {
	s := scalarString(v)
	switch f.Type {
	case "keyword", "flattened", "flat_object", "boolean":
		if f.IgnoreAbove > 0 && len([]rune(s)) > f.IgnoreAbove {
			return nil, nil
		}
		return &value{s: s}, nil
	case "text":
		return &value{s: s, tokens: analyze(s)}, nil
	case "ip":
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, reasonf("'%s' is not an IP string literal.", s)
		}
		return &value{s: s, ip: a.Unmap()}, nil
	case "long", "integer":
		n, err := parseLong(s)
		if err != nil {
			return nil, err
		}
		return &value{s: s, n: n}, nil
	case "double", "float":
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, reasonf("For input string: \"%s\"", s)
		}
		return &value{s: s, n: n}, nil
	case "date", "date_nanos":
		t, err := parseDate(s, "")
		if err != nil {
			return nil, err
		}
		if f.Type == "date_nanos" && t.Before(time.Unix(0, 0)) {
			return nil, fmt.Errorf("date[%s] is before the epoch in 1970 and cannot be stored in nanosecond resolution", t.Format(time.RFC3339Nano))
		}
		return &value{s: s, n: float64(t.UnixNano())}, nil
	}
	return &value{s: s}, nil
}

// parseLong accepts what Elasticsearch coerces to a long: integers, and
// numbers with a fraction, truncated.
func parseLong(s string) (float64, error) {
	if n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
		return float64(n), nil
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, reasonf("For input string: \"%s\"", s)
	}
	return math.Trunc(f), nil
}

// parseDate reads strict_date_optional_time(_nanos) and epoch_millis.
func parseDate(s, format string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	if format == "" || strings.Contains(format, "epoch_millis") {
		if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.UnixMilli(ms), nil
		}
	}
	return time.Time{}, fmt.Errorf("failed to parse date field [%s] with format [strict_date_optional_time_nanos]", s)
}

func scalarString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func preview(v any) string {
	s := scalarString(v)
	if len(s) > 20 {
		s = s[:20] + "..."
	}
	return s
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// reason is an error worded as Elasticsearch words it (capitals and full
// stops included), for caused_by.
type reason string

func (r reason) Error() string { return string(r) }

func reasonf(format string, args ...any) error { return reason(fmt.Sprintf(format, args...)) }
